package component_test

import (
	"strings"
	"testing"

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
			b.ResetTimer()
			go func() {
				var batch strings.Builder
				for i := range b.N {
					batch.WriteString(msg)
					if batch.Len() > 16<<10 || i == b.N-1 {
						alice.Conn.Write([]byte(batch.String()))
						batch.Reset()
					}
				}
			}()
			for i := range b.N {
				if m := gw.Next(); m.Name.Local != "message" {
					b.Fatalf("component got %s as message %d", m, i)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
