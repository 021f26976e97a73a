package s2s_test

import (
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

	xmpptest.ExpectFloodPaused(t, alice, bob, carol, "a", n, "a15")
}
