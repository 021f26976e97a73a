package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/server"
)

// TestProsodyImport moves two accounts from Prosody to xmppd: prosodyctl
// creates them, they chat through Prosody, which archives the messages
// (mod_mam), Prosody's own migrator writes accounts and archives out in
// XEP-0227's format (its mod_storage_xep0227), xmppd's importer reads the
// files, and the account logs in to xmppd with its Prosody password,
// over the one SCRAM hash Prosody kept, and finds its history.
func TestProsodyImport(t *testing.T) {
	needProsody(t)
	if _, err := exec.LookPath("prosody-migrator"); err != nil {
		t.Fatalf("%v\nProsody's migrator comes with its Debian package", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("Prosody's migrator writes XEP-0227 files into /var/lib/prosody only, which needs root")
	}
	p := newProsody(t, freePort(t), freePort(t), 0, xmppdSRV("xmpp-server", freePort(t)), nil)
	const password = "wonder land"
	n := time.Now().UnixNano()
	user, peer := fmt.Sprintf("moving%d", n), fmt.Sprintf("staying%d", n)
	p.register(t, user, password)
	p.register(t, peer, password)
	p.start(t)
	a := xmpptest.LoginAddr(t, p.c2sAddr, prosodyDomain, user, password, "a")
	b := xmpptest.LoginAddr(t, p.c2sAddr, prosodyDomain, peer, password, "b")
	a.Send("<message type='chat' id='p1' to='" + b.JID + "'><body>before the move</body></message>")
	readUntil(t, b, "the first message", isMessage)
	b.Send("<message type='chat' id='p2' to='" + a.JID + "'><body>and after it</body></message>")
	readUntil(t, a, "the answer", isMessage)
	p.stop(t)

	migrator := filepath.Join(p.dir, "migrator.cfg.lua")
	// The migrator labels the credentials with its own password_hash,
	// which must be the one the Prosody it reads used.
	conf := `password_hash = "SHA-256"
input { hosts = { ["` + prosodyDomain + `"] = { "accounts", "archive-archive" } }; type = "internal"; path = "` + filepath.Join(p.dir, "data") + `"; }
output { type = "xep0227"; }
`
	if err := os.WriteFile(migrator, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var exports []string
	for _, u := range []string{user, peer} {
		export := filepath.Join("/var/lib/prosody", u+"@"+prosodyDomain+".xml")
		t.Cleanup(func() { os.Remove(export) })
		exports = append(exports, export)
	}
	ctx, cancel := context.WithTimeout(context.Background(), prosodyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "prosody-migrator", "--config", migrator, "input", "output")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Done") {
		t.Fatalf("prosody-migrator: %v\n%s", err, out)
	}

	s := xmpptest.Start(t, func(c *config.Config) { c.Hosts = append(c.Hosts, prosodyDomain) })
	im := server.Importer(s.Config, s.DB)
	for _, export := range exports {
		if res, err := im.Import(ctx, export); err != nil || res.Accounts != 1 || res.Archived != 2 {
			data, _ := os.ReadFile(export)
			t.Fatalf("import: %+v, %v\n%s", res, err, data)
		}
	}
	if res, err := im.Finish(ctx); err != nil || res.Archived != 4 {
		t.Fatalf("placing the archives: %+v, %v", res, err)
	}

	// SCRAM-SHA-256, the hash the Prosody here keeps (password_hash).
	c := xmpptest.LoginAt(t, s, prosodyDomain, user, password, "moved")
	c.Send("<iq type='set' id='history'><query xmlns='urn:xmpp:mam:2'/></iq>")
	var history []string
	for el := c.Next(); el.Name.Local == "message"; el = c.Next() {
		fwd := el.Child("urn:xmpp:mam:2", "result").Child("urn:xmpp:forward:0", "forwarded")
		stamp, err := time.Parse(time.RFC3339, fwd.Child("urn:xmpp:delay", "delay").Attr("stamp"))
		if err != nil || time.Since(stamp) > time.Hour {
			t.Fatalf("archived %s: the date is not the message's (%v)", fwd, err)
		}
		history = append(history, body(fwd.Child("jabber:client", "message")))
	}
	if got := strings.Join(history, ", "); got != "before the move, and after it" {
		t.Fatalf("the archive moved: %q", got)
	}
	c.Online()
}
