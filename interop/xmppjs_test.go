package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// TestXmppJS logs in with xmpp.js (@xmpp/client 0.14, from npm), which
// takes SASL2 (XEP-0388) and Bind 2 (XEP-0386) when offered and enables
// stream management inside the bind request. It must end up bound to a
// resource Bind 2 made from its tag, with stream management on, and chat
// both ways with a Go client.
func TestXmppJS(t *testing.T) {
	var got struct {
		JID, SASL, SMID, Reply string
		SM                     bool
	}
	_, from := chatWithXmppJS(t, "chat.mjs", "xmppjs", "hello from xmpp.js", "hello, xmpp.js", &got)
	if got.JID != from || got.SASL != "SASL2" || !got.SM || got.SMID == "" || got.Reply != "hello, xmpp.js" {
		t.Fatalf("xmpp.js saw %+v, want %s bound by SASL2 with resumable stream management and romeo's reply", got, from)
	}
	t.Logf("xmpp.js: %+v", got)
}

// TestXmppJSFast has xmpp.js log in with a FAST token (XEP-0484): it asks
// for one at a password login, then logs in with it and a wrong password,
// over HT-SHA-256-NONE, binds and chats. The server must have stored the
// token and marked it used.
func TestXmppJSFast(t *testing.T) {
	var got struct{ Mechanism, Expiry, JID, Reply string }
	s, from := chatWithXmppJS(t, "fast.mjs", "fast", "hello over FAST", "hello, token", &got)
	expiry, err := time.Parse(time.RFC3339, got.Expiry)
	if got.Mechanism != "HT-SHA-256-NONE" || err != nil || time.Until(expiry) < 20*24*time.Hour || got.JID != from || got.Reply != "hello, token" {
		t.Fatalf("xmpp.js saw %+v, want a HT-SHA-256-NONE token for three weeks, %s and romeo's reply", got, from)
	}
	var used bool
	if err := s.DB.QueryRow(context.Background(), `SELECT used FROM fast_tokens WHERE username = 'juliet'`).Scan(&used); err != nil || !used {
		t.Fatalf("juliet's stored token: used %v, %v; want one token, used", used, err)
	}
	t.Logf("xmpp.js: %+v", got)
}

// chatWithXmppJS runs script as juliet against a new server where romeo,
// a Go client, is online: the script must send romeo hello from a Bind 2
// resource beginning with tag, which romeo answers with reply; then it
// prints one JSON line, read into got. It returns the server and the
// script's full JID.
func chatWithXmppJS(t *testing.T, script, tag, hello, reply string, got any) (*xmpptest.Server, string) {
	t.Helper()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "juliet's js secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()
	cmd, out := startXmppJS(t, s, script, "juliet's js secret", "juliet", "romeo@"+xmpptest.Domain)

	m := readUntil(t, romeo, "xmpp.js's message", isMessage)
	from := m.Attr("from")
	if !strings.HasPrefix(from, "juliet@localhost/"+tag+"/") || body(m) != hello {
		t.Fatalf("romeo got %s, want xmpp.js's message from a Bind 2 resource %s/...", m, tag)
	}
	romeo.Send("<message to='" + escape(from) + "' type='chat' id='r1'><body>" + escape(reply) + "</body></message>")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out.String())
	}
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), got); err != nil {
		t.Fatalf("%s printed %q: %v", script, out.String(), err)
	}
	return s, from
}

// startXmppJS starts node on script in xmppjs/ (npm ci first, if needed)
// with args, the password in XMPPD_INTEROP_PASSWORD and s's certificate
// trusted, and returns the command and its combined output.
func startXmppJS(t *testing.T, s *xmpptest.Server, script, password string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	node, npm := needNode(t)
	dir, err := filepath.Abs("xmppjs")
	if err != nil {
		t.Fatal(err)
	}
	npmCI(t, npm, dir, "node_modules/@xmpp/client/package.json")
	// Node trusts the server's certificate, which names localhost, and
	// nothing more than its usual roots.
	certFile := filepath.Join(t.TempDir(), "server.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: xmpptest.HTTPSCertificate(t, s).Raw})
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.C2SAddr.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, node, append([]string{script, port}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certFile, "XMPPD_INTEROP_PASSWORD="+password)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}
