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
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	aAddr := xmpptest.FreeAddr(t) // b.test verifies dialback keys here, before and after the restart
	a := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen = aAddr
		c.S2S.Routes = map[string]string{"b.test": silent.Addr().String()}
	})
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"a.test": aAddr}
	})
	alice, bob := online(t, a, b)
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>kept</body></message>")
	alice.Send("<message to='bob@b.test' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	alice.IQ("get", "a.test", "<ping xmlns='urn:xmpp:ping'/>") // the messages are queued

	a.Config.S2S.Routes = map[string]string{"b.test": b.S2SAddr.String()}
	a = xmpptest.Restart(t, a)
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "kept")

	alice = xmpptest.LoginAt(t, a, "a.test", "alice", "alice pw", "phone")
	alice.Send("<message to='bob@b.test' type='chat'><body>after</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "after")
}
