package c2s_test

import (
	"fmt"
	"sort"
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

// TestSMSessionEndsDuringResumption: juliet's session ends (a new
// session binds its resource) while her client resumes it on a new
// connection and the session waits for the old connection's reader,
// busy storing her last message. The new connection is not the
// session's yet: it gets <failed/> with item-not-found and the count
// (XEP-0198 §5), and neither the session's stanzas nor its stream error;
// the session's unacknowledged message goes to the new session only,
// once.
func TestSMSessionEndsDuringResumption(t *testing.T) {
	logs := xmpptest.NewRecords()
	s := xmpptest.StartLogged(t, logs.Logger())
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	j := xmpptest.LoginSM(t, s, "juliet", "pw", "balcony")
	r := xmpptest.Login(t, s, "romeo", "pw", "orchard")

	j2, release := resumeWhileHeld(t, s, j)
	r.Send(chat("juliet@localhost/balcony", 1))
	r.Ping() // routed: queued for the resuming session

	j3 := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	logs.Wait(t, "c2s re-routed unacknowledged messages", "jid", "juliet@localhost/balcony")
	release()

	el := j2.Next()
	if el.Name.Local != "failed" || el.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found") == nil || el.Attr("h") == "" {
		t.Fatalf("resuming a session that ended meanwhile: got %s, want <failed h/> with item-not-found", el)
	}
	j2.Bind("elsewhere")
	j2.Ping()
	expectBody(t, j3.Next(), 1)
	j3.Ping()
}

// TestSMCleanCloseEndsSession: a client closing its stream cleanly ends
// its session (XEP-0198 §7), on the stream that enabled resumption or on
// the one that resumed it, even when the close follows <resume/> at once:
// a later resumption fails with item-not-found and the count, and the
// messages the client did not acknowledge go to offline storage.
func TestSMCleanCloseEndsSession(t *testing.T) {
	logs := xmpptest.NewRecords()
	s := xmpptest.StartLogged(t, logs.Logger())
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	j := xmpptest.LoginSM(t, s, "juliet", "pw", "balcony")
	r := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	r.Send(chat("juliet@localhost/balcony", 1))
	expectBody(t, j.Next(), 1)
	j.C.Conn.Close()
	r.Send(chat("juliet@localhost/balcony", 2))
	r.Ping()

	// Resumed and closed at once: the session ends after <resumed/>.
	j2 := xmpptest.DialFrom(t, "127.0.0.2", s.C2SAddr)
	j2.Authenticated("juliet", "pw")
	j2.Send("<resume xmlns='urn:xmpp:sm:3' previd='" + j.ID + "' h='0'/></stream:stream>")
	if el := j2.Next(); el.Name.Local != "resumed" {
		t.Fatalf("got %s, want <resumed/>", el)
	}
	for {
		if _, err := j2.NextErr(); err != nil {
			break
		}
	}
	// Both connections' readers are done: the first one's, and the
	// second one's, which ended the session.
	logs.Wait(t, "c2s closed", "jid", "juliet@localhost/balcony")
	logs.Wait(t, "c2s closed", "jid", "juliet@localhost/balcony")
	j3 := xmpptest.Dial(t, s.C2SAddr)
	j3.Authenticated("juliet", "pw")
	if el := j3.Resume(j.ID, 0); el.Name.Local != "failed" || el.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found") == nil || el.Attr("h") != "0" {
		t.Fatalf("resuming after a clean close: got %s, want <failed h='0'/> with item-not-found", el)
	}

	// Closed on the stream that enabled it.
	j3.Bind("balcony")
	sm3 := j3.EnableSM()
	j3.Send("</stream:stream>")
	for {
		if _, err := j3.NextErr(); err != nil {
			break
		}
	}
	logs.Wait(t, "c2s closed", "jid", "juliet@localhost/balcony")
	j4 := xmpptest.Dial(t, s.C2SAddr)
	j4.Authenticated("juliet", "pw")
	if el := j4.Resume(sm3.ID, 0); el.Name.Local != "failed" || el.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found") == nil || el.Attr("h") != "0" {
		t.Fatalf("resuming after a clean close: got %s, want <failed h='0'/> with item-not-found", el)
	}
	j4.Bind("balcony")
	j4.Send("<presence/>")
	var got []string
	for _, m := range j4.MessagesBeforePing() {
		if b := m.Child("jabber:client", "body"); b != nil {
			got = append(got, b.Text())
		}
	}
	sort.Strings(got)
	if fmt.Sprint(got) != "[m1 m2]" {
		t.Fatalf("offline messages %v, want m1 m2 once", got)
	}
}
