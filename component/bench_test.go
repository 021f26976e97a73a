package component_test

import (
	"strings"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// BenchmarkToComponent measures a message's way from a client's stream
// through the router to a component's stream: chat messages, which the
// sender's archive keeps first, and headlines, which it does not.
func BenchmarkToComponent(b *testing.B) {
	for _, typ := range []string{"chat", "headline"} {
		b.Run(typ, func(b *testing.B) {
			s := xmpptest.Start(b, withGateway)
			s.AddUser(b, "alice", xmpptest.Domain, password)
			gw := xmpptest.ConnectComponent(b, s.ComponentAddr, gateway, secret)
			alice := xmpptest.Login(b, s, "alice", password, "laptop")
			msg := "<message to='bob@" + gateway + "' type='" + typ + "'><body>" + strings.Repeat("x", 100) + "</body></message>"
			// The sender keeps at most window messages under way, fewer
			// than the component's queue holds (limits.session_queue):
			// more would be refused with resource-constraint.
			const window = 500
			read := make(chan struct{}, b.N/window+1)
			alice.Conn.SetWriteDeadline(time.Time{}) // Send's would expire during a long run
			b.ResetTimer()
			go func() {
				var batch strings.Builder
				for i := range b.N {
					if i >= window && i%window == 0 {
						<-read
					}
					batch.WriteString(msg)
					if batch.Len() > 16<<10 || (i+1)%window == 0 || i == b.N-1 {
						if _, err := alice.Conn.Write([]byte(batch.String())); err != nil {
							b.Errorf("sending: %v", err)
							return
						}
						batch.Reset()
					}
				}
			}()
			for i := range b.N {
				m, err := gw.NextErr()
				if err != nil {
					b.Fatalf("after %d: %v", i, err)
				}
				if m.Name.Local != "message" || m.Attr("type") != typ {
					b.Fatalf("component got %s as message %d", m, i)
				}
				if (i+1)%window == 0 {
					read <- struct{}{}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
