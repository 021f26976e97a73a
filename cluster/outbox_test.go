package cluster_test

import (
	"fmt"
	"net"
	"testing"

	"xmppd/config"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
)

// TestGoneNodesMessagesForAnotherServer kills -9 a node while messages
// its client sent to another server wait for that server, which does not
// answer: the oldest node takes them over once the killed node is found
// silent, and sends them when the other server answers.
func TestGoneNodesMessagesForAnotherServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the xmppd binary")
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	nats := natstest.Start(t)
	a := xmpptest.Start(t, inCluster(nats.URL()), func(c *config.Config) {
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"b.test": silent.Addr().String()}
	})
	a.AddUser(t, "alice", xmpptest.Domain, "alice pw")

	// n is a separate process on the same database and NATS.
	n, nAddr := nodeProcess(t, a, nats.URL(), fmt.Sprintf("[s2s]\nlisten = %q\n[s2s.routes]\n'b.test' = %q\n", xmpptest.FreeAddr(t), silent.Addr()))
	alice := xmpptest.LoginAddr(t, nAddr, xmpptest.Domain, "alice", "alice pw", "desk")
	sm := alice.EnableSM()
	const count = 3
	for i := 1; i <= count; i++ {
		sm.Send(fmt.Sprintf("<message to='bob@b.test' type='chat'><body>message %d</body></message>", i))
	}
	if h := sm.Handled(); h != count {
		t.Fatalf("the node acknowledged %d messages; want %d", h, count)
	}
	if err := n.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	n.Wait()

	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{xmpptest.Domain: a.S2SAddr.String()}
	})
	b.AddUser(t, "bob", "b.test", "bob pw")
	bob := xmpptest.LoginAt(t, b, "b.test", "bob", "bob pw", "laptop")
	bob.Online()
	a.S2S().SetRoute("b.test", b.S2SAddr.String())
	for i := 1; i <= count; i++ {
		xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@localhost/desk", fmt.Sprintf("message %d", i))
	}
}
