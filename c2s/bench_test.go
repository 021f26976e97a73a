package c2s

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// boundPairSessions returns a server with two bound sessions, each
// reachable through a loopback TCP connection (skipping TLS and SASL), and
// the sessions, with stream management enabled on both when sm is true.
func boundPairSessions(b testing.TB, sm bool) (srv *Server, a net.Conn, sa *Session, z net.Conn, sz *Session) {
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	srv = New(Config{Hosts: []string{"localhost"}, QueueSize: 1 << 20}, r, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	bind := func(resource string) (net.Conn, *Session) {
		client, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conn, err := l.Accept()
		if err != nil {
			b.Fatal(err)
		}
		t := newTCPTransport(conn, xmlstream.Limits{}, 30*time.Second)
		t.parkAfter = 2 * time.Second // as the server does
		client.Write([]byte(fuzzHeader))
		if _, err := t.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		s := newSession(srv, t, jid.MustParse("user@localhost/"+resource), "en")
		s.sm.enabled = sm
		bound := make(chan struct{})
		go func() {
			srv.addSession(s)
			srv.router.Bind(s)
			s.release()
			close(bound)
			s.serve(context.Background(), t, s.readerDone, nil)
		}()
		<-bound
		b.Cleanup(func() { client.Close(); conn.Close() })
		return client, s
	}
	a, sa = bind("a")
	z, sz = bind("z")
	return srv, a, sa, z, sz
}

// BenchmarkRouteMessage measures one chat message end to end: written by
// one client, parsed, routed, serialised and read by the other client.
func BenchmarkRouteMessage(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchRoute(b, false) })
	b.Run("sm", func(b *testing.B) { benchRoute(b, true) })
}

// benchRoute measures messages from a to z; with sm, both sessions count
// stanzas, z's client answers every <r/> and a's stanzas are acknowledged
// only once z acknowledged them (receipt.go).
func benchRoute(b *testing.B, sm bool) {
	_, a, _, z, _ := boundPairSessions(b, sm)
	msg := []byte(`<message to='user@localhost/z' type='chat' id='8e1d7f0c-3b1a-4c55-9f36-2a1c9b6d7e42' xml:lang='en'><body>Wherefore art thou, Romeo? Deny thy father and refuse thy name.</body><active xmlns='http://jabber.org/protocol/chatstates'/><origin-id xmlns='urn:xmpp:sid:0' id='8e1d7f0c-3b1a-4c55-9f36-2a1c9b6d7e42'/></message>`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		batch := bytes.Repeat(msg, 64)
		for sent := 0; sent < b.N; sent += 64 {
			n := min(64, b.N-sent)
			if _, err := a.Write(batch[:n*len(msg)]); err != nil {
				return
			}
		}
	}()
	// Count end tags of messages received by z.
	buf := make([]byte, 64<<10)
	end := []byte("</message>")
	got, carry := 0, 0
	for got < b.N {
		n, err := z.Read(buf[carry:])
		if err != nil && err != io.EOF {
			b.Fatal(err)
		}
		data := buf[:carry+n]
		if sm && bytes.Contains(data[carry:], []byte("<r xmlns")) {
			// Acknowledge what was received before the request.
			i := bytes.Index(data, []byte("<r xmlns"))
			h := got + bytes.Count(data[:i], end)
			z.Write([]byte("<a xmlns='urn:xmpp:sm:3' h='" + strconv.Itoa(h) + "'/>"))
		}
		got += bytes.Count(data, end)
		// Keep a partial end tag for the next read.
		keep := min(len(end)-1, len(data))
		copy(buf, data[len(data)-keep:])
		carry = keep
	}
	b.StopTimer()
	if got != b.N {
		b.Fatalf("received %d, want %d", got, b.N)
	}
}
