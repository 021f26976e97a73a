package proxy65_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const nsBytestreams = "http://jabber.org/protocol/bytestreams"

// start starts a server with the proxy on, and alice and bob online.
func start(t *testing.T) (s *xmpptest.Server, alice, bob *xmpptest.Client) {
	s = xmpptest.Start(t, func(c *config.Config) { c.Proxy65.Listen = "127.0.0.1:0" })
	s.AddUser(t, "alice", xmpptest.Domain, "alice's secret")
	s.AddUser(t, "bob", xmpptest.Domain, "bob's secret")
	return s, xmpptest.Login(t, s, "alice", "alice's secret", "laptop"), xmpptest.Login(t, s, "bob", "bob's secret", "phone")
}

// address is the bytestream address of XEP-0065 §5.3.2.
func address(sid, initiator, target string) string {
	sum := sha1.Sum([]byte(sid + initiator + target))
	return hex.EncodeToString(sum[:])
}

// connect opens a SOCKS5 connection to the relay for addr and returns it
// with the relay's reply code.
func connect(t testing.TB, relay net.Addr, addr string) (net.Conn, byte) {
	t.Helper()
	c, err := net.Dial("tcp", relay.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := append([]byte{5, 1, 0, 5, 1, 0, 3, byte(len(addr))}, addr...)
	if _, err := c.Write(append(req, 0, 0)); err != nil {
		t.Fatal(err)
	}
	var method [2]byte
	if _, err := io.ReadFull(c, method[:]); err != nil || method != [2]byte{5, 0} {
		t.Fatalf("greeting answered %v, %v; want no authentication", method, err)
	}
	head := make([]byte, 5)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatalf("no reply to CONNECT: %v", err)
	}
	if head[3] == 3 {
		bound := make([]byte, int(head[4])+2)
		if _, err := io.ReadFull(c, bound); err != nil || string(bound[:head[4]]) != addr {
			t.Fatalf("bound address %q, %v; want %s", bound, err, addr)
		}
	}
	return c, head[1]
}

// activate asks the proxy to activate alice's bytestream sid to target.
func activate(alice *xmpptest.Client, sid, target string) *xmlstream.Element {
	alice.Send("<iq type='set' id='act' to='proxy.localhost'><query xmlns='" + nsBytestreams + "' sid='" + sid + "'><activate>" + target + "</activate></query></iq>")
	return alice.NextNamed("iq")
}

// TestTransfer: alice finds the proxy and its address, bob (the target)
// and alice connect to it for a bytestream, alice activates it, and a
// megabyte goes from alice to bob, with what she sent before activation
// first, and an answer back; each side reads the other's end of stream.
func TestTransfer(t *testing.T) {
	s, alice, bob := start(t)
	items := alice.Result("get", "localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	if !bytes.Contains([]byte(items.String()), []byte("proxy.localhost")) {
		t.Fatalf("the server's items %s lack the proxy", items)
	}
	info := alice.Result("get", "proxy.localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	id := info.FirstChildElement().Child("http://jabber.org/protocol/disco#info", "identity")
	if id == nil || id.Attr("category") != "proxy" || id.Attr("type") != "bytestreams" {
		t.Fatalf("disco#info %s, want a proxy/bytestreams identity", info)
	}
	host := alice.Result("get", "proxy.localhost", "<query xmlns='"+nsBytestreams+"'/>").FirstChildElement().Child(nsBytestreams, "streamhost")
	if port := strconv.Itoa(s.Proxy65Addr.(*net.TCPAddr).Port); host == nil || host.Attr("jid") != "proxy.localhost" || host.Attr("host") != "localhost" || host.Attr("port") != port {
		t.Fatalf("streamhost %s, want proxy.localhost at localhost:%s", host, port)
	}

	addr := address("s1", alice.JID, bob.JID)
	target, code := connect(t, s.Proxy65Addr, addr)
	if code != 0 {
		t.Fatalf("the target's CONNECT got %d", code)
	}
	xmpptest.ExpectError(t, activate(alice, "s1", bob.JID), "not-allowed") // bob alone
	initiator, code := connect(t, s.Proxy65Addr, addr)
	if code != 0 {
		t.Fatalf("the initiator's CONNECT got %d", code)
	}
	if third, code := connect(t, s.Proxy65Addr, addr); code == 0 {
		third.Close()
		t.Fatal("a third connection to the bytestream was taken")
	}
	if _, err := initiator.Write([]byte("early ")); err != nil {
		t.Fatal(err)
	}
	xmpptest.ExpectError(t, activate(bob, "s1", alice.JID), "item-not-found") // not the initiator
	if res := activate(alice, "s1", bob.JID); res.Attr("type") != "result" {
		t.Fatalf("activation: %s", res)
	}
	xmpptest.ExpectError(t, activate(alice, "s1", bob.JID), "item-not-found") // once

	file := make([]byte, 1<<20)
	rand.Read(file)
	go func() {
		initiator.Write(file)
		initiator.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(target)
	if err != nil || !bytes.Equal(got, append([]byte("early "), file...)) {
		t.Fatalf("bob read %d bytes (%v), want the %d alice sent", len(got), err, len(file)+6)
	}
	target.Write([]byte("thanks"))
	target.(*net.TCPConn).CloseWrite()
	if back, err := io.ReadAll(initiator); err != nil || string(back) != "thanks" {
		t.Fatalf("alice read %q, %v", back, err)
	}
}

// TestBadInput: what is not a bytestream's SOCKS5 CONNECT is refused
// with the SOCKS5 reply that says why, or closed; activations that name
// nothing get the XEP's errors; the proxy keeps working.
func TestBadInput(t *testing.T) {
	s, alice, bob := start(t)
	for _, c := range []struct {
		name  string
		send  []byte
		reply []byte // what the relay answers before closing
	}{
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), nil},
		{"SOCKS4", []byte{4, 1, 0, 80, 127, 0, 0, 1, 0}, nil},
		{"authentication only", []byte{5, 1, 2}, []byte{5, 0xff}},
		{"BIND", append([]byte{5, 1, 0, 5, 2, 0, 3, 40}, bytes.Repeat([]byte("a"), 42)...), []byte{5, 0, 5, 7}},
		{"IPv4", []byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80}, []byte{5, 0, 5, 8}},
		{"not hex", append([]byte{5, 1, 0, 5, 1, 0, 3, 40}, bytes.Repeat([]byte("z"), 42)...), []byte{5, 0, 5, 8}},
		{"short address", append([]byte{5, 1, 0, 5, 1, 0, 3, 4}, "abcd\x00\x00"...), []byte{5, 0, 5, 8}},
	} {
		conn, err := net.Dial("tcp", s.Proxy65Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write(c.send)
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || !bytes.HasPrefix(got, c.reply) || (c.reply == nil && len(got) > 0) {
			t.Errorf("%s: read %v, %v; want %v and the end", c.name, got, err, c.reply)
		}
	}
	xmpptest.ExpectError(t, activate(alice, "nothing", bob.JID), "item-not-found")
	alice.Send("<iq type='set' id='act' to='proxy.localhost'><query xmlns='" + nsBytestreams + "' sid='x'/></iq>")
	xmpptest.ExpectError(t, alice.NextNamed("iq"), "bad-request")
	xmpptest.ExpectError(t, activate(alice, "x", "@@"), "jid-malformed")
	alice.Send("<message to='proxy.localhost'><body>hi</body></message>")
	xmpptest.ExpectError(t, alice.NextNamed("message"), "service-unavailable")

	// Still working.
	addr := address("s2", alice.JID, bob.JID)
	target, _ := connect(t, s.Proxy65Addr, addr)
	initiator, _ := connect(t, s.Proxy65Addr, addr)
	if res := activate(alice, "s2", bob.JID); res.Attr("type") != "result" {
		t.Fatalf("activation: %s", res)
	}
	initiator.Write([]byte("ok"))
	initiator.Close()
	if got, err := io.ReadAll(target); err != nil || string(got) != "ok" {
		t.Fatalf("read %q, %v", got, err)
	}
}
