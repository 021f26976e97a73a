package interop

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// sendxmpp runs Debian's go-sendxmpp (a Go client on another XMPP
// library) as account with password against addr, with args and stdin,
// of s and returns its output. Its home, where it keeps OpenPGP keys, is
// home.
func sendxmpp(t *testing.T, s *xmpptest.Server, home string, addr net.Addr, account, password, stdin string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("go-sendxmpp")
	if err != nil {
		if os.Getenv("XMPPD_SKIP_INTEROP") == "1" {
			t.Skip("XMPPD_SKIP_INTEROP=1")
		}
		t.Fatalf("%v (apt-get install go-sendxmpp, or set XMPPD_SKIP_INTEROP=1 to skip the interop tests)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-u", account, "-p", password, "-j", addr.String(), "-n", "--timeout", "20"}, args...)...)
	// Its HTTP uploads check the certificate, which -n does not change:
	// have it trust the server's own.
	cmd.Env = append(os.Environ(), "HOME="+home, "SSL_CERT_FILE="+filepath.Join(s.Config.DataDir, "certs", "localhost.crt"))
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go-sendxmpp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestSendxmpp drives go-sendxmpp as alice: a message over STARTTLS and
// one over direct TLS (XEP-0368), a file by HTTP upload (XEP-0363), a
// message to a room (XEP-0045), and a message encrypted with OpenPGP for
// XMPP (XEP-0373), for which go-sendxmpp publishes bob's and alice's
// public keys in PEP and fetches bob's from his PEP node. bob, a Go
// client, receives each.
func TestSendxmpp(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "alice", xmpptest.Domain, "alice's sendxmpp secret")
	s.AddUser(t, "bob", xmpptest.Domain, "bob's secret")
	bob := xmpptest.Login(t, s, "bob", "bob's secret", "desk")
	bob.Online()
	const alice, password = "alice@localhost", "alice's sendxmpp secret"
	home := t.TempDir()

	sendxmpp(t, s, home, s.C2SAddr, alice, password, "over STARTTLS\n", "bob@localhost")
	if m := readUntil(t, bob, "the STARTTLS message", isMessage); !strings.HasPrefix(m.Attr("from"), alice+"/") || strings.TrimSpace(body(m)) != "over STARTTLS" {
		t.Fatalf("bob got %s", m)
	}
	sendxmpp(t, s, home, s.DirectTLSAddr, alice, password, "over direct TLS\n", "-t", "bob@localhost")
	if m := readUntil(t, bob, "the direct TLS message", isMessage); strings.TrimSpace(body(m)) != "over direct TLS" {
		t.Fatalf("bob got %s", m)
	}

	file := filepath.Join(t.TempDir(), "notes.txt")
	content := strings.Repeat("uploaded by go-sendxmpp\n", 1000)
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	sendxmpp(t, s, home, s.C2SAddr, alice, password, "", "-h", file, "bob@localhost")
	m := readUntil(t, bob, "the upload's link", isMessage)
	url := strings.TrimSpace(body(m))
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("bob got %s, want a link to the file", m)
	}
	client := http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != content {
		t.Fatalf("GET %s: %s with %d bytes, want the %d uploaded", url, resp.Status, len(got), len(content))
	}

	const room = "lounge@conference.localhost"
	bob.Send("<presence to='" + room + "/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	readUntil(t, bob, "bob's own presence in the room", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == room+"/bob"
	})
	readUntil(t, bob, "the room's subject", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("jabber:client", "subject") != nil
	})
	// A new room is locked until its owner configures it (XEP-0045 §10.1):
	// an instant room.
	bob.Send("<iq type='set' id='instant' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	readUntil(t, bob, "the room's unlocking", isIQ("instant"))
	sendxmpp(t, s, home, s.C2SAddr, alice, password, "to the room\n", "-c", "-a", "alice", room)
	if m := readUntil(t, bob, "alice's groupchat message", isMessage); m.Attr("from") != room+"/alice" || m.Attr("type") != "groupchat" ||
		strings.TrimSpace(body(m)) != "to the room" {
		t.Fatalf("bob got %s, want alice's groupchat message", m)
	}

	// OpenPGP for XMPP: bob's key, made and published by go-sendxmpp in
	// his name (he stays online in his Go client), then alice's message.
	sendxmpp(t, s, t.TempDir(), s.C2SAddr, "bob@localhost", "bob's secret", "", "--ox-genprivkey-x25519", "--ox-passphrase", "bob's key")
	sendxmpp(t, s, home, s.C2SAddr, alice, password, "secret\n", "--ox-genprivkey-x25519", "--ox-passphrase", "alice's key")
	sendxmpp(t, s, home, s.C2SAddr, alice, password, "encrypted\n", "--ox", "--ox-passphrase", "alice's key", "bob@localhost")
	m = readUntil(t, bob, "alice's encrypted message", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("urn:xmpp:openpgp:0", "openpgp") != nil
	})
	if strings.Contains(m.String(), "encrypted\n") {
		t.Fatalf("the message is in the clear: %s", m)
	}
}
