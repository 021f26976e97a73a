package s2s_test

import (
	"fmt"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestFloodingServerIsPaused: alice on a.test sends bob on b.test far
// more than b.test's rate limit for a server allows at once. b.test reads
// the burst, then pauses reading from a.test's stream: carol's message,
// sent on b.test once bob has some of alice's, reaches him before
// alice's last ones. Then every one of alice's arrives, in order.
func TestFloodingServerIsPaused(t *testing.T) {
	const rate, n = 5000, 30 // 20,000 bytes at once, then 5,000 a second
	_, b, alice, bob := federated(t, func(c *config.Config) { c.Limits.ServerBytesPerSecond = rate })
	b.AddUser(t, "carol", "b.test", "carol pw")
	carol := xmpptest.LoginAt(t, b, "b.test", "carol", "carol pw", "desk")

	// Headlines are not archived: each is routed at once.
	var flood strings.Builder
	for i := range n {
		fmt.Fprintf(&flood, "<message to='bob@b.test/laptop' type='headline' id='a%d'><body>%s</body></message>", i, strings.Repeat("x", 1000))
	}
	alice.Send(flood.String())

	var order []string
	for len(order) < n+1 {
		m := bob.NextNamed("message")
		order = append(order, m.Attr("id"))
		if m.Attr("id") == "a15" {
			carol.Send("<message to='bob@b.test/laptop' type='headline' id='c'><body>meanwhile</body></message>")
		}
	}
	xmpptest.ExpectOvertaken(t, order, "c", "a", n)
}
