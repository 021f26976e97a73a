package chaos

import (
	"fmt"
	"net"
	"os"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestKillNineKeepsMessagesForAnotherServer has a stream-managed client
// send messages to another server that does not answer yet, kills xmppd
// with SIGKILL once they are acknowledged, and starts it again when the
// other server is up: the messages arrive, in order.
func TestKillNineKeepsMessagesForAnotherServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	bin, cfgPath, addr := setup(t, "sender")
	s2sAddr := xmpptest.FreeAddr(t)
	base, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	route := func(to string) {
		cfg := fmt.Sprintf("%s[s2s]\nlisten = %q\n[s2s.routes]\n'b.test' = %q\n", base, s2sAddr, to)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	route(silent.Addr().String())
	proc := xmpptest.Serve(t, bin, cfgPath)
	sender := login(t, addr, "sender")
	sm := sender.EnableSM()
	want := []string{"remote-1", "remote-2", "remote-3"}
	for _, body := range want {
		sm.Send("<message type='chat' to='bob@b.test'><body>" + body + "</body></message>")
	}
	if h := sm.Handled(); h != uint32(len(want)) {
		t.Fatalf("the server acknowledged %d messages; want %d", h, len(want))
	}
	proc.Process.Kill()
	proc.Wait()

	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"localhost": s2sAddr}
	})
	b.AddUser(t, "bob", "b.test", "bob pw")
	bob := xmpptest.LoginAt(t, b, "b.test", "bob", "bob pw", "laptop")
	bob.Online()
	route(b.S2SAddr.String())
	xmpptest.Serve(t, bin, cfgPath)
	for _, body := range want {
		xmpptest.ExpectBody(t, bob.NextNamed("message"), "sender@localhost/chaos", body)
	}
}
