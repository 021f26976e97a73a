package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// xmppd runs the binary with args and stdin, and returns its output.
func xmppd(t *testing.T, bin string, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The whole life of a zero-configuration install: no database URL, so
// xmppd runs its own PostgreSQL; accounts are managed with the CLI; a
// client logs in; SIGHUP reloads certificates; SIGTERM ends every stream
// with <system-shutdown/> and exits cleanly.
func TestZeroConfigLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := xmpptest.BuildXMPPD(t)
	dir := t.TempDir()
	c2sAddr := xmpptest.FreeAddr(t)
	proxyAddr := xmpptest.FreeAddr(t)
	cfgPath := writeConfig(t, dir, c2sAddr, proxyAddr)

	if out, err := xmppd(t, bin, "", "-c", cfgPath, "check-config"); err != nil || !strings.Contains(out, "configuration OK") {
		t.Fatalf("check-config: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("hosts = ['a b']"), 0o600)
	if out, err := xmppd(t, bin, "", "-c", bad, "check-config"); err == nil || !strings.Contains(out, "not a valid domain") {
		t.Fatalf("check-config of a bad file: %v\n%s", err, out)
	}

	if out, err := xmppd(t, bin, "s3cret pass\n", "-c", cfgPath, "user", "add", "alice@localhost"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, err := xmppd(t, bin, "other\n", "-c", cfgPath, "user", "add", "alice@localhost"); err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("second user add: %v\n%s", err, out)
	}
	if out, err := xmppd(t, bin, "x\n", "-c", cfgPath, "user", "add", "bob@elsewhere.example"); err == nil || !strings.Contains(out, "not served here") {
		t.Fatalf("user add for another host: %v\n%s", err, out)
	}
	xmppd(t, bin, "gone\n", "-c", cfgPath, "user", "add", "carol@localhost")
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "user", "delete", "carol@localhost"); err != nil {
		t.Fatalf("user delete: %v\n%s", err, out)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "user", "list"); err != nil || strings.TrimSpace(out) != "alice@localhost" {
		t.Fatalf("user list = %q, %v", out, err)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "migrate"); err != nil || !strings.Contains(out, "schema is at version") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	export := filepath.Join(dir, "export.xml")
	os.WriteFile(export, []byte("<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='dave' password='moved in'>"+
		"<query xmlns='jabber:iq:roster'><item jid='alice@localhost' subscription='none'/></query></user></host></server-data>"), 0o600)
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "import", export); err != nil || !strings.Contains(out, "1 accounts, 1 roster items") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	// Archives: a later import overlapping what is archived is refused
	// unless told to leave the overlap out.
	archive := func(name, stamp string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte("<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='"+name[:len(name)-4]+"' password='x'>"+
			"<archive xmlns='urn:xmpp:pie:0#mam'><result xmlns='urn:xmpp:mam:2'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='"+stamp+"'/>"+
			"<message xmlns='jabber:client' from='alice@localhost/a' to='"+name[:len(name)-4]+"@localhost' type='chat'><body>hi</body></message></forwarded></result></archive>"+
			"</user></host></server-data>"), 0o600)
		return path
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "import", archive("erin.xml", "2020-01-01T00:00:00Z")); err != nil || !strings.Contains(out, "1 archived messages took their place") {
		t.Fatalf("import of an archive: %v\n%s", err, out)
	}
	later := archive("frank.xml", "2021-01-01T00:00:00Z")
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "import", later); err == nil || !strings.Contains(out, "nothing was imported") {
		t.Fatalf("import of an overlapping archive: %v\n%s", err, out)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "import", "-drop-newer-archives", later); err != nil || !strings.Contains(out, "1 archived messages were left out") {
		t.Fatalf("import of an overlapping archive with -drop-newer-archives: %v\n%s", err, out)
	}
	backup := filepath.Join(dir, "backup.xml")
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "export", backup); err != nil || !strings.Contains(out, "4 accounts, 1 archived messages") {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if data, err := os.ReadFile(backup); err != nil || !bytes.Contains(data, []byte("<user name='dave'>")) || !bytes.Contains(data, []byte("jid='alice@localhost'")) {
		t.Fatalf("export wrote %s, %v", data, err)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "export", backup); err == nil || !strings.Contains(out, "exists") {
		t.Fatalf("export over an existing file: %v\n%s", err, out)
	}
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "export", "-"); err != nil || !strings.HasPrefix(out, "<?xml") || !strings.Contains(out, "<user name='dave'>") {
		t.Fatalf("export to stdout: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-c", cfgPath, "serve")
	stdout, _ := cmd.StdoutPipe()
	var logs bytes.Buffer
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	logDone := make(chan struct{})
	reloaded := make(chan struct{})
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			logs.WriteString(lines.Text() + "\n")
			if strings.Contains(lines.Text(), "certificates reloaded") {
				close(reloaded)
			}
		}
		close(logDone)
	}()
	defer cmd.Process.Kill()
	// The welcome text says the server is ready.
	ready := bufio.NewScanner(stdout)
	var welcome strings.Builder
	for ready.Scan() {
		welcome.WriteString(ready.Text() + "\n")
		if strings.Contains(ready.Text(), "Add a user") {
			break
		}
	}
	if !strings.Contains(welcome.String(), "bytestreams proxy:    proxy.localhost on "+proxyAddr) {
		t.Errorf("the welcome does not name the bytestreams proxy:\n%s", welcome.String())
	}
	go func() {
		io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()

	alice := loginAt(t, c2sAddr, "alice", "s3cret pass")
	// Accounts can be added while the server runs its private PostgreSQL.
	if out, err := xmppd(t, bin, "bobpass\n", "-c", cfgPath, "user", "add", "bob@localhost"); err != nil {
		t.Fatalf("user add while serving: %v\n%s", err, out)
	}
	bob := loginAt(t, c2sAddr, "bob", "bobpass")
	loginAt(t, c2sAddr, "dave", "moved in") // imported
	alice.Send("<message to='bob@localhost/cli-test' type='chat'><body>hi bob</body></message>")
	if m := bob.NextNamed("message"); m.Attr("from") != "alice@localhost/cli-test" {
		t.Fatalf("bob got %s", m)
	}
	// Changing a password while the server runs ends the sessions that
	// logged in with the old one.
	if out, err := xmppd(t, bin, "newbobpass\n", "-c", cfgPath, "user", "passwd", "bob@localhost"); err != nil {
		t.Fatalf("user passwd while serving: %v\n%s", err, out)
	}
	bob.ExpectStreamError("reset")
	bob = loginAt(t, c2sAddr, "bob", "newbobpass")
	// Deleting an account while the server runs ends its session.
	if out, err := xmppd(t, bin, "", "-c", cfgPath, "user", "delete", "bob@localhost"); err != nil {
		t.Fatalf("user delete while serving: %v\n%s", err, out)
	}
	bob.ExpectStreamError("not-authorized")

	cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-reloaded:
	case <-time.After(time.Minute):
		t.Fatal("no \"certificates reloaded\" in the log within a minute of SIGHUP")
	}
	alice.Ping() // still serving after the reload

	cmd.Process.Signal(syscall.SIGTERM)
	alice.ExpectStreamError("system-shutdown")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("xmppd exited with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("xmppd did not stop within a minute of SIGTERM")
	}
	<-logDone
	for _, want := range []string{"starting a private PostgreSQL", "certificates reloaded", "c2s auth ok", "stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the password appears in the log")
	}
	// The private PostgreSQL was stopped with xmppd.
	if _, err := os.Stat(filepath.Join(dir, "data", "postgres", "pgdata", "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid still present after stop: %v", err)
	}
}

// writeConfig writes, in dir, the configuration of a server with its
// private PostgreSQL under dir/data, clients on c2sAddr (STARTTLS only),
// no HTTP, and the bytestreams proxy on proxyAddr (none when empty).
func writeConfig(t *testing.T, dir, c2sAddr, proxyAddr string) (path string) {
	t.Helper()
	path = filepath.Join(dir, "xmppd.toml")
	cfg := "data_dir = '" + filepath.Join(dir, "data") + "'\n[c2s]\nlisten = '" + c2sAddr + "'\nlisten_tls = ''\n[http]\nlisten = ''\nlisten_tls = ''\n" +
		"[proxy65]\nlisten = '" + proxyAddr + "'\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loginAt(t *testing.T, addr, user, password string) *xmpptest.Client {
	tcpAddr, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := xmpptest.Dial(t, tcpAddr)
	c.Open("localhost")
	c.Features()
	c.StartTLS("localhost", xmpptest.TLSConfig("localhost", tls.VersionTLS13))
	c.Features()
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256-PLUS", Binding: "tls-exporter"}, user, password); el.Name.Local != "success" {
		t.Fatalf("login: %s", el)
	}
	c.Open("localhost")
	c.Features()
	c.Bind("cli-test")
	return c
}
