package c2s

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"xmppd/xmlstream"
)

// The counters of stream management wrap around at 2^32 (XEP-0198 §4).
func TestSMWrapAround(t *testing.T) {
	_, a, _, z, sz := boundPairSessions(t, true)
	dec := xmlstream.NewDecoder(bufio.NewReader(io.MultiReader(strings.NewReader(fuzzHeader), z)), xmlstream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 16})
	if _, err := dec.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	next := func() *xmlstream.Element {
		t.Helper()
		for {
			z.SetReadDeadline(time.Now().Add(10 * time.Second))
			el, err := dec.ReadElement()
			if err != nil {
				t.Fatal(err)
			}
			if el.Name.Local != "r" {
				return el
			}
		}
	}
	sz.mu.Lock()
	sz.sm.acked = 1<<32 - 2
	sz.sm.handled, sz.sm.received = 1<<32-2, 1<<32-2
	sz.mu.Unlock()
	for range 3 {
		a.Write([]byte("<message to='user@localhost/z' type='chat'><body>x</body></message>"))
		if el := next(); el.Name.Local != "message" {
			t.Fatalf("got %s", el)
		}
	}
	z.Write([]byte("<a xmlns='urn:xmpp:sm:3' h='1'/>")) // 2^32-2 + 3
	z.Write([]byte("<message to='user@localhost/a' type='chat'><body>y</body></message><message to='user@localhost/a' type='chat'><body>y</body></message><r xmlns='urn:xmpp:sm:3'/>"))
	// z's messages are safe once a's client acknowledged them.
	buf, seen := make([]byte, 4096), ""
	for strings.Count(seen, "</message>") < 2 {
		a.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := a.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		seen += string(buf[:n])
	}
	a.Write([]byte("<a xmlns='urn:xmpp:sm:3' h='2'/>"))
	el := next()
	if el.Name.Local == "a" && el.Attr("h") == "4294967294" {
		el = next() // answered before a's acknowledgement; owed one follows
	}
	if el.Name.Local != "a" || el.Attr("h") != "0" {
		t.Fatalf("got %s, want <a h='0'/>", el)
	}
	sz.mu.Lock()
	defer sz.mu.Unlock()
	if sz.sm.acked != 1 || len(sz.sm.unacked) != 0 {
		t.Fatalf("acked %d, %d unacked; want 1, 0", sz.sm.acked, len(sz.sm.unacked))
	}
}
