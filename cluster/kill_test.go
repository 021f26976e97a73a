package cluster_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
)

// TestKilledNodeLosesNothingAcknowledged kills -9 a node whose client got
// messages from a client on another node without acknowledging them. The
// sender's stream-management count stays behind until the killed node is
// found silent; then the messages are stored offline, the count catches
// up, and the recipient gets them all at the next login.
func TestKilledNodeLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the xmppd binary")
	}
	nats := natstest.Start(t)
	a := xmpptest.Start(t, inCluster(nats.URL()))
	a.AddUser(t, "alice", xmpptest.Domain, "alice pw")
	a.AddUser(t, "bob", xmpptest.Domain, "bob pw")

	// b is a separate process on the same database and NATS.
	b, bAddr := nodeProcess(t, a, nats.URL(), "")

	bob := xmpptest.LoginAddr(t, bAddr, xmpptest.Domain, "bob", "bob pw", "phone")
	bobSM := bob.EnableSM()
	bobSM.AutoAck = false // bob reads, but never acknowledges
	bob.Online()
	sees(t, a, "bob@localhost/phone", "")
	alice := xmpptest.Login(t, a, "alice", "alice pw", "desk")
	aliceSM := alice.EnableSM()

	const n = 5
	for i := 1; i <= n; i++ {
		aliceSM.Send(fmt.Sprintf("<message to='bob@localhost' type='chat' id='m%d'><body>message %d</body></message>", i, i))
	}
	for i := 1; i <= n; i++ {
		xmpptest.ExpectBody(t, nextMessage(bob), "alice@localhost/desk", fmt.Sprintf("message %d", i))
	}

	// bob has not acknowledged them, so neither has the server to alice.
	if h := aliceSM.Handled(); h != 0 {
		t.Fatalf("alice's count is %d before bob acknowledged anything, want 0", h)
	}

	if err := b.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	b.Wait()
	// The server owes alice an <a/>: it comes once a stored the messages
	// that b held.
	for {
		el := aliceSM.Next()
		if el.Name.Local != "a" {
			t.Fatalf("alice got %s, want <a/>", el)
		}
		if el.Attr("h") == fmt.Sprint(n) {
			break
		}
	}

	bob = xmpptest.Login(t, a, "bob", "bob pw", "phone")
	bob.Send("<presence/>")
	for i := 1; i <= n; i++ {
		xmpptest.ExpectBody(t, nextMessage(bob), "alice@localhost/desk", fmt.Sprintf("message %d", i))
	}
}

// nodeProcess starts the xmppd binary as another node of a's cluster, on
// a's database and the NATS server natsURL, with extra appended to its
// configuration; it returns the process and its client address.
func nodeProcess(t *testing.T, a *xmpptest.Server, natsURL, extra string) (*exec.Cmd, net.Addr) {
	t.Helper()
	dir := t.TempDir()
	listen := xmpptest.FreeAddr(t)
	cfgPath := filepath.Join(dir, "xmppd.toml")
	cfg := fmt.Sprintf("data_dir = %q\n[database]\nurl = %q\n[c2s]\nlisten = %q\nlisten_tls = ''\n[http]\nlisten = ''\nlisten_tls = ''\n"+
		"[cluster]\nnats = %q\nheartbeat_ms = 100\ntimeout_ms = 2000\n%s",
		filepath.Join(dir, "data"), a.Config.Database.URL, listen, natsURL, extra)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := xmpptest.Serve(t, xmpptest.BuildXMPPD(t), cfgPath)
	addr, err := net.ResolveTCPAddr("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	return proc, addr
}
