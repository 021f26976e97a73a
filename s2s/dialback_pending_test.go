package s2s_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestPendingVerificationsEndWithTheStream: a stream may have b.test
// verify at most 10 dialback keys at once, each over a connection of
// b.test's own to the claimed domain's server. When the stream ends, its
// verifications end with it; otherwise a peer that opens a stream, asks
// for 10 verifications against servers that never answer, and hangs up,
// again and again, has b.test hold any number of connections (each for
// the whole connect timeout), past both the bound per stream and the
// bound on unauthenticated streams per address.
func TestPendingVerificationsEndWithTheStream(t *testing.T) {
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
	})
	tarpit := listen(t) // accepts, never answers
	const n = 10
	for i := range n {
		b.S2S().SetRoute(fmt.Sprintf("d%d.test", i), tarpit.Addr().String())
	}
	c := openPeer(t, b, "d0.test", "b.test", true)
	for i := range n {
		c.Send(fmt.Sprintf("<db:result from='d%d.test' to='b.test'>k</db:result>", i))
	}
	tarpit.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second)) // a bound, not a timing
	var verifying []net.Conn
	for range n {
		nc, err := tarpit.Accept()
		if err != nil {
			t.Fatalf("b.test did not connect to verify the keys: %v", err)
		}
		defer nc.Close()
		verifying = append(verifying, nc)
	}
	c.Conn.Close() // the peer goes away

	for i, nc := range verifying {
		// A bound well under the 30 s connect timeout, not a timing.
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, nc)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("verification connection %d stays open after the stream that asked for it ended", i)
		}
	}
}

// TestPendingVerificationsBound: a claim beyond the 10 keys b.test
// verifies at once for a stream is refused with a resource-constraint
// dialback error, and the stream goes on with the pairs it carries
// (XEP-0220 §2.2.1: already verified pairs go on; §2.4: a dialback
// error, not a stream error).
func TestPendingVerificationsBound(t *testing.T) {
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
	})
	tarpit := listen(t) // accepts, never answers
	const n = 10
	for i := range n + 1 {
		b.S2S().SetRoute(fmt.Sprintf("d%d.test", i), tarpit.Addr().String())
	}
	c := openPeer(t, b, "d0.test", "b.test", true)
	for i := range n + 1 {
		c.Send(fmt.Sprintf("<db:result from='d%d.test' to='b.test'>k</db:result>", i))
	}
	if el := c.Next(); el.Name.Local != "result" || el.Attr("to") != "d10.test" || !dialbackError(el, "resource-constraint") {
		t.Fatalf("got %s, want a resource-constraint dialback error for d10.test", el)
	}
	c.Send("<db:verify from='d0.test' to='elsewhere.test' id='probe'>0123</db:verify>")
	if el := c.Next(); el.Name.Local != "verify" || !dialbackError(el, "item-not-found") {
		t.Fatalf("got %s, want the stream to go on", el)
	}
}
