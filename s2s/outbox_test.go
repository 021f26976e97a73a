package s2s_test

import (
	"net"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestMessagesKeptAcrossRestart stops a.test while its message for
// b.test waits for a server that does not answer: the message stays in
// the outbox, not bounced, and goes out when a.test starts again. A chat
// state in the same queue is not kept.
func TestMessagesKeptAcrossRestart(t *testing.T) {
	silent := listen(t) // accepts, never answers
	alice, bob, restart := restartingSender(t, silent)
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>kept</body></message>")
	alice.Send("<message to='bob@b.test' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	alice.IQ("get", "a.test", "<ping xmlns='urn:xmpp:ping'/>") // the messages are queued

	a := restart()
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "kept")

	alice = xmpptest.LoginAt(t, a, "a.test", "alice", "alice pw", "phone")
	alice.Send("<message to='bob@b.test' type='chat'><body>after</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "after")
}

// restartingSender starts a.test, which finds b.test's server at l, and
// the real b.test, and returns alice and bob online; restart restarts a.test
// with the real b.test's address. b.test verifies dialback keys at
// a.test's fixed address, before and after the restart.
func restartingSender(t *testing.T, l net.Listener) (alice, bob *xmpptest.Client, restart func() *xmpptest.Server) {
	t.Helper()
	aAddr := xmpptest.FreeAddr(t)
	a := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen = aAddr
		c.S2S.Routes = map[string]string{"b.test": l.Addr().String()}
	})
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"a.test": aAddr}
	})
	alice, bob = online(t, a, b)
	return alice, bob, func() *xmpptest.Server {
		a.Config.S2S.Routes = map[string]string{"b.test": b.S2SAddr.String()}
		return xmpptest.Restart(t, a)
	}
}
