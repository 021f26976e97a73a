package interop

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// python is Debian's interpreter, the one python3-slixmpp installs into;
// a python3 found on PATH may be another one without slixmpp.
const python = "/usr/bin/python3"

// scriptTimeout is the script's own limit for a whole run; the test kills it
// if it overruns that by much.
const scriptTimeout = 30 * time.Second

// needSlixmpp fails the test when slixmpp cannot be imported, unless
// XMPPD_SKIP_INTEROP=1 asks to skip it.
func needSlixmpp(t *testing.T) {
	t.Helper()
	if os.Getenv("XMPPD_SKIP_INTEROP") == "1" {
		t.Skip("XMPPD_SKIP_INTEROP=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-I", "-c", "import slixmpp").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import slixmpp (%v) %s\ninstall it with: apt-get install python3-slixmpp (or set XMPPD_SKIP_INTEROP=1 to skip the interop tests)",
			python, err, bytes.TrimSpace(out))
	}
}

// TestSlixmppChat runs slixmpp_chat.py: two slixmpp clients log in over
// STARTTLS with a given SCRAM mechanism, query disco#info, ping the server
// and each other, exchange a chat message each way and close their streams.
func TestSlixmppChat(t *testing.T) {
	needSlixmpp(t)
	script, err := filepath.Abs("slixmpp_chat.py")
	if err != nil {
		t.Fatal(err)
	}
	s := xmpptest.Start(t)
	const alice, bob = "alice", "bob"
	passwords := map[string]string{alice: "wonder land & ünïcode", bob: "b0b's s3cret"}
	for user, password := range passwords {
		s.AddUser(t, user, xmpptest.Domain, password)
	}
	host, port, err := net.SplitHostPort(s.C2SAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout+15*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, python, "-I", script,
				"--host", host, "--port", port, "--mech", mech,
				"--timeout", strconv.Itoa(int(scriptTimeout/time.Second)), "--trace",
				alice+"@"+xmpptest.Domain, bob+"@"+xmpptest.Domain)
			cmd.Env = append(os.Environ(),
				"XMPPD_INTEROP_PASSWORD1="+passwords[alice],
				"XMPPD_INTEROP_PASSWORD2="+passwords[bob])
			cmd.WaitDelay = 5 * time.Second
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			if ctx.Err() != nil {
				err = errors.Join(err, ctx.Err())
			}
			if err != nil {
				t.Fatalf("%s failed after %v: %v\n%s\n(XMPPD_TEST_LOG=1 adds the server's debug log)\nslixmpp log:\n%s",
					filepath.Base(script), time.Since(start).Round(time.Millisecond), err,
					strings.TrimSpace(stdout.String()), stderr.String())
			}
			t.Logf("%s in %v:\n%s", filepath.Base(script), time.Since(start).Round(time.Millisecond), strings.TrimSpace(stdout.String()))
			if os.Getenv("XMPPD_TEST_LOG") != "" {
				t.Logf("slixmpp log:\n%s", stderr.String())
			}
		})
	}
}

// TestSlixmppPEP runs slixmpp_pep.py: personal eventing with slixmpp's
// own entity capabilities, user mood and publish options.
func TestSlixmppPEP(t *testing.T) {
	runScript(t, "slixmpp_pep.py", nil, "alice", "bob")
}

// TestSlixmppUpload runs slixmpp_upload.py: HTTP file upload with
// slixmpp's discovery of the service and aiohttp's PUT and GET.
func TestSlixmppUpload(t *testing.T) {
	runScript(t, "slixmpp_upload.py", nil, "alice")
}

// TestSlixmppBytestreams runs slixmpp_bytestreams.py: a file sent
// between two slixmpp clients through the SOCKS5 bytestreams proxy, which
// slixmpp discovers, asks for its address and has activate the stream.
func TestSlixmppBytestreams(t *testing.T) {
	runScript(t, "slixmpp_bytestreams.py", func(c *config.Config) { c.Proxy65.Listen = "127.0.0.1:0" }, "alice", "bob")
}

// TestSlixmppComponent runs slixmpp_component.py: an external component
// (XEP-0114) made with slixmpp, and a slixmpp client chatting with it;
// the component uses roster and message privileges (XEP-0356).
func TestSlixmppComponent(t *testing.T) {
	const gateway, secret = "gw.localhost", "gateway s3cret"
	runScript(t, "slixmpp_component.py", func(c *config.Config) {
		c.Components.Listen = "127.0.0.1:0"
		c.Components.External = []config.ExternalComponent{{Domain: gateway, Secret: secret,
			Privileges: config.Privileges{Roster: "both", Message: "outgoing"}}}
	}, "alice")
}

// TestSlixmppAdmin runs slixmpp_admin.py: service administration
// (XEP-0133) through slixmpp's ad-hoc commands, by an admin and refused
// to anybody else.
func TestSlixmppAdmin(t *testing.T) {
	runScript(t, "slixmpp_admin.py", func(c *config.Config) {
		c.Admins = []string{"alice@" + xmpptest.Domain}
	}, "alice", "bob")
}

// TestSlixmppGroupchat runs slixmpp_groupchat.py: a room on the MUC
// service found by disco, created, configured with its form and joined by
// two slixmpp clients, which exchange groupchat and private messages, set
// the subject, page through the room's archive (XEP-0313 with RSM) and
// leave.
func TestSlixmppGroupchat(t *testing.T) {
	runScript(t, "slixmpp_groupchat.py", nil, "alice", "bob")
}

// TestSlixmppDevices runs slixmpp_devices.py: one account on two
// slixmpp clients with message carbons, one of them with stream
// management, acked, cut off and resumed with what was sent to it
// meanwhile, and both sides' archives paged with RSM.
func TestSlixmppDevices(t *testing.T) {
	runScript(t, "slixmpp_devices.py", nil, "alice", "bob")
}

// runScript runs a slixmpp script against a fresh server, with change
// to its configuration if not nil, and the given accounts: its arguments
// are the server's host and port and the accounts' JIDs, their passwords
// in XMPPD_INTEROP_PASSWORD1, 2, ... A configured component's domain and
// port are in XMPPD_INTEROP_COMPONENT, its secret in
// XMPPD_INTEROP_COMPONENT_SECRET.
func runScript(t *testing.T, name string, change func(*config.Config), users ...string) {
	needSlixmpp(t)
	script, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	var changes []func(*config.Config)
	if change != nil {
		changes = append(changes, change)
	}
	s := xmpptest.Start(t, changes...)
	host, port, err := net.SplitHostPort(s.C2SAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	// The scripts trust the HTTPS listener's certificate, and nothing
	// else, through OpenSSL's SSL_CERT_FILE; upload links name the domain.
	certFile := filepath.Join(t.TempDir(), "https.pem")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: xmpptest.HTTPSCertificate(t, s).Raw})
	if err := os.WriteFile(certFile, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-I", script, host, port}
	env := append(os.Environ(), "XMPPD_INTEROP_TRACE=1", "SSL_CERT_FILE="+certFile)
	for _, ec := range s.Config.Components.External {
		_, componentPort, _ := net.SplitHostPort(s.ComponentAddr.String())
		env = append(env, "XMPPD_INTEROP_COMPONENT="+ec.Domain+" "+componentPort, "XMPPD_INTEROP_COMPONENT_SECRET="+ec.Secret)
	}
	for i, user := range users {
		s.AddUser(t, user, xmpptest.Domain, user+"'s secret")
		args = append(args, user+"@"+xmpptest.Domain)
		env = append(env, "XMPPD_INTEROP_PASSWORD"+strconv.Itoa(i+1)+"="+user+"'s secret")
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s failed: %v\n%s\nslixmpp log:\n%s", name, errors.Join(err, ctx.Err()), strings.TrimSpace(stdout.String()), stderr.String())
	}
	t.Log(strings.TrimSpace(stdout.String()))
	if os.Getenv("XMPPD_TEST_LOG") != "" {
		t.Logf("slixmpp log:\n%s", stderr.String())
	}
}
