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

// TestProsodyImport moves an account from Prosody to xmppd: prosodyctl
// creates it, Prosody's own migrator writes it out in XEP-0227's format
// (its mod_storage_xep0227), xmppd's importer reads the file, and the
// account logs in to xmppd with its Prosody password, over the one SCRAM
// hash Prosody kept.
func TestProsodyImport(t *testing.T) {
	needProsody(t)
	if _, err := exec.LookPath("prosody-migrator"); err != nil {
		t.Fatalf("%v\nProsody's migrator comes with its Debian package", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("Prosody's migrator writes XEP-0227 files into /var/lib/prosody only, which needs root")
	}
	p := newProsody(t, 1, 2, 3, nil)
	const password = "wonder land"
	user := fmt.Sprintf("moving%d", time.Now().UnixNano())
	p.register(t, user, password)

	migrator := filepath.Join(p.dir, "migrator.cfg.lua")
	// The migrator labels the credentials with its own password_hash,
	// which must be the one the Prosody it reads used.
	conf := `password_hash = "SHA-256"
input { hosts = { ["` + prosodyDomain + `"] = { "accounts" } }; type = "internal"; path = "` + filepath.Join(p.dir, "data") + `"; }
output { type = "xep0227"; }
`
	if err := os.WriteFile(migrator, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join("/var/lib/prosody", user+"@"+prosodyDomain+".xml")
	t.Cleanup(func() { os.Remove(export) })
	ctx, cancel := context.WithTimeout(context.Background(), prosodyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "prosody-migrator", "--config", migrator, "input", "output")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Done") {
		t.Fatalf("prosody-migrator: %v\n%s", err, out)
	}

	s := xmpptest.Start(t, func(c *config.Config) { c.Hosts = append(c.Hosts, prosodyDomain) })
	res, err := server.Importer(s.Config, s.DB).Import(context.Background(), export)
	if err != nil || res.Accounts != 1 {
		data, _ := os.ReadFile(export)
		t.Fatalf("import: %+v, %v\n%s", res, err, data)
	}

	// SCRAM-SHA-256, the hash the Prosody here keeps (password_hash).
	c := xmpptest.LoginAt(t, s, prosodyDomain, user, password, "moved")
	c.Online()
}
