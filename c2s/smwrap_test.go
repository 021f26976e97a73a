package c2s

import (
	"encoding/xml"
	"io"
	"net"
	"strconv"
	"testing"

	"xmppd/xmlstream"
)

// firstElement reads the name and the h attribute of the next element the
// server writes on conn (a bound session's connection carries no stream
// header in these tests).
func firstElement(t *testing.T, conn net.Conn) (name, h string) {
	t.Helper()
	d := xml.NewDecoder(conn)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			t.Fatal("the connection closed before an element came")
		}
		if err != nil {
			t.Fatal(err)
		}
		if start, ok := tok.(xml.StartElement); ok {
			for _, a := range start.Attr {
				if a.Name.Local == "h" {
					h = a.Value
				}
			}
			return start.Name.Local, h
		}
	}
}

// TestSMAckAcrossTheWrap: stream management counts go on from 2^32-1 to
// 0 (XEP-0198 §4). A client's h is compared with the count it
// acknowledged before modulo 2^32: an h a few stanzas behind it across
// the wrap is ignored, as any h behind it, and one ahead of what the
// server sent across the wrap is too high.
func TestSMAckAcrossTheWrap(t *testing.T) {
	tests := []struct {
		name    string
		acked   uint32 // what the client acknowledged before
		unacked int    // stanzas sent since
		h       uint32
		want    string // the answer to <a h/><r/>: "a", or "error" for handled-count-too-high
		ackedTo uint32 // acked afterwards, for "a"
	}{
		{"behind across the wrap", 1, 0, 1<<32 - 2, "a", 1},
		{"ahead across the wrap", 1<<32 - 2, 3, 1, "a", 1},
		{"too high across the wrap", 1<<32 - 2, 0, 5, "error", 0},
		{"too high by less than half the counts", 1<<32 - 2, 1, 1<<31 - 10, "error", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, conn, s, _, _ := boundPairSessions(t, true)
			s.mu.Lock()
			s.sm.acked = tt.acked
			for range tt.unacked {
				// Presence: dropped, not routed again, if the session ends.
				s.sm.unacked = append(s.sm.unacked, outItem{el: xmlstream.NewElement("jabber:client", "presence")})
			}
			s.mu.Unlock()
			conn.Write([]byte("<a xmlns='urn:xmpp:sm:3' h='" + strconv.FormatUint(uint64(tt.h), 10) + "'/><r xmlns='urn:xmpp:sm:3'/>"))
			name, _ := firstElement(t, conn)
			switch {
			case tt.want == "a" && name != "a":
				t.Fatalf("<a h='%d'/> after acknowledging %d with %d sent since: got <%s/>, want the stream to go on", tt.h, tt.acked, tt.unacked, name)
			case tt.want == "error" && name != "error":
				t.Fatalf("<a h='%d'/> after acknowledging %d with %d sent since: got <%s/>, want handled-count-too-high", tt.h, tt.acked, tt.unacked, name)
			}
			if tt.want != "a" {
				return
			}
			s.mu.Lock()
			acked, left := s.sm.acked, len(s.sm.unacked)
			s.mu.Unlock()
			if acked != tt.ackedTo || left != 0 {
				t.Fatalf("acknowledged count %d with %d unacknowledged, want %d with none", acked, left, tt.ackedTo)
			}
		})
	}
}
