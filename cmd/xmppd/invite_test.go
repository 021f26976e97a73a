package main

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// An administrator makes an invitation with the CLI; it lets one person
// register on an invitation-only server, once, and shows up as used.
func TestInviteCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := xmpptest.BuildXMPPD(t)
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.RequireInvite = true
	})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "xmppd.toml")
	cfg := "hosts = ['localhost', 'example.test']\ndata_dir = '" + filepath.Join(dir, "data") + "'\n" +
		"[database]\nurl = '" + s.Config.Database.URL + "'\n" +
		"[registration]\nenabled = true\nrequire_invite = true\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := xmppd(t, bin, "", "-c", cfgPath, "invite", "create", "localhost")
	if err != nil {
		t.Fatalf("invite create: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^uri: +xmpp:localhost\?register;preauth=([A-Z2-7]+)$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "token:   "+m[1]) || !strings.Contains(out, "expires: ") {
		t.Fatalf("invite create printed:\n%s", out)
	}
	token := m[1]
	if !strings.Contains(out, "link:    https://localhost:5281/invite/"+token+"\n") {
		t.Errorf("invite create printed no link to the invitation's page (the default HTTPS listener):\n%s", out)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "invite", "create", "elsewhere.example"); err == nil || !strings.Contains(out, "not served here") {
		t.Fatalf("invite create for another host: %v\n%s", err, out)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "invite", "create", "-valid", "-1h", "localhost"); err == nil {
		t.Fatalf("invite create with a negative validity: %s", out)
	}
	// Without registration the token lets nobody in, and the note says so.
	closed := filepath.Join(dir, "closed.toml")
	if err := os.WriteFile(closed, []byte("data_dir = '"+filepath.Join(dir, "data")+"'\n[database]\nurl = '"+s.Config.Database.URL+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := xmppd(t, bin, "", "-c", closed, "invite", "create", "localhost"); err != nil || !strings.Contains(out, "registration.enabled is off, so nobody can register") {
		t.Errorf("invite create without registration: %v\n%s", err, out)
	}

	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	c.Features()
	c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	c.Features()
	for i, user := range []string{"juliet", "romeo"} {
		c.Send("<iq type='set' id='r'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='username'><value>" + user + "</value></field><field var='password'><value>pw</value></field>" +
			"<field var='token'><value>" + token + "</value></field></x></query></iq>")
		if got, want := c.NextNamed("iq").Attr("type"), []string{"result", "error"}[i]; got != want {
			t.Fatalf("registration of %s with the token: %s, want %s", user, got, want)
		}
	}

	// -user reserves the username: the URI names it, and juliet's is taken.
	out, err = xmppd(t, bin, "", "-c", cfgPath, "invite", "create", "-user", "Tybalt", "localhost")
	if err != nil || !regexp.MustCompile(`(?m)^uri: +xmpp:tybalt@localhost\?register;preauth=[A-Z2-7]+$`).MatchString(out) {
		t.Fatalf("invite create -user: %v\n%s", err, out)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "invite", "create", "-user", "juliet", "localhost"); err == nil || !strings.Contains(out, "taken or reserved") {
		t.Fatalf("invite create -user for an account: %v\n%s", err, out)
	}

	out, err = xmppd(t, bin, "", "-c", cfgPath, "invite", "list")
	if err != nil || !strings.Contains(out, token+" localhost expires ") || !strings.Contains(out, "used by juliet@localhost") ||
		!strings.Contains(out, "unused, for tybalt@localhost") {
		t.Fatalf("invite list: %v\n%s", err, out)
	}
}
