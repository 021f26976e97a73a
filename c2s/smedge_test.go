package c2s_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestSMAckGoingBackwards: an h lower than the one the client already
// acknowledged, in <a/> or in <resume/>, acknowledges nothing new: the
// stream goes on (it is not too high a count, which would end it), nothing
// is trimmed or re-sent by wrapping counts, and the stanzas still
// unacknowledged are re-sent once on resumption.
func TestSMAckGoingBackwards(t *testing.T) {
	s, j, r := smPair(t)
	j.AutoAck = false
	for n := 1; n <= 3; n++ {
		r.Send(chat("juliet@localhost/balcony", n))
		expectBody(t, j.Next(), n)
	}
	j.Ack() // h=3
	j.C.Send("<a xmlns='urn:xmpp:sm:3' h='1'/>")
	if h := j.Handled(); h != 0 {
		t.Fatalf("h = %d, want 0", h)
	}
	r.Send(chat("juliet@localhost/balcony", 4))
	expectBody(t, j.Next(), 4)
	j.C.Conn.Close()

	j2 := xmpptest.DialFrom(t, "127.0.0.2", s.C2SAddr)
	j2.Authenticated("juliet", "pw")
	if el := j2.Resume(j.ID, 2); el.Name.Local != "resumed" || el.Attr("h") != "0" {
		t.Fatalf("resuming with h 2 after acknowledging 3: got %s, want <resumed h='0'/>", el)
	}
	sm2 := &xmpptest.SM{C: j2, ID: j.ID, H: 3, AutoAck: true}
	expectBody(t, sm2.Next(), 4)
	sm2.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := sm2.Next(); el.Name.Local != "iq" || el.Attr("id") != "barrier" {
		t.Fatalf("got %s, want only the ping result (nothing re-sent twice)", el)
	}
	// The count goes on from what was acknowledged: 4 is right, 5 too high.
	sm2.Ack()
	sm2.C.Send("<a xmlns='urn:xmpp:sm:3' h='4'/>")
	sm2.C.Send("<a xmlns='urn:xmpp:sm:3' h='6'/>")
	expectHandledTooHigh(t, j2, j2.Next(), "6", "5")
}
