package c2s_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const nsSM = "urn:xmpp:sm:3"

func smPair(t *testing.T, change ...func(*config.Config)) (*xmpptest.Server, *xmpptest.SM, *xmpptest.Client) {
	s := xmpptest.Start(t, change...)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	j := xmpptest.Dial(t, s.C2SAddr)
	f := j.Authenticated("juliet", "pw")
	if f.Child(nsSM, "sm") == nil || f.Child("urn:xmpp:csi:0", "csi") == nil {
		t.Fatalf("features after authentication lack sm or csi: %s", f)
	}
	j.Bind("balcony")
	r := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	return s, j.EnableSM(), r
}

func chat(to string, n int) string {
	return fmt.Sprintf("<message to='%s' type='chat'><body>m%d</body></message>", to, n)
}

func expectBody(t *testing.T, el *xmlstream.Element, n int) {
	t.Helper()
	xmpptest.ExpectBody(t, el, "romeo@localhost/orchard", fmt.Sprintf("m%d", n))
}

// TestSMResumeMax: the client's max shortens the server's resumption
// time, and one too large for a Duration does not wrap around.
func TestSMResumeMax(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.C2S.ResumeSeconds = 300 })
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	for max, want := range map[string]string{"60": "60", "9223372037": "300", "": "300"} {
		c := xmpptest.Login(t, s, "juliet", "pw", "balcony"+max)
		c.Send("<enable xmlns='" + nsSM + "' resume='true' max='" + max + "'/>")
		if el := c.NextNamed("enabled"); el.Attr("max") != want {
			t.Errorf("enable with max %q: %s, want max %s", max, el, want)
		}
	}
}

func TestSMAckCounting(t *testing.T) {
	_, j, r := smPair(t)
	j.AutoAck = false
	for n := 1; n <= 7; n++ {
		r.Send(chat("juliet@localhost/balcony", n))
	}
	// The server asks for an ack after 5 stanzas.
	for n := 1; n <= 5; n++ {
		expectBody(t, j.C.Next(), n)
		j.H++
	}
	if el := j.C.Next(); el.Name.Space != nsSM || el.Name.Local != "r" {
		t.Fatalf("got %s, want <r/> after 5 stanzas", el)
	}
	j.Ack()
	expectBody(t, j.Next(), 6)
	expectBody(t, j.Next(), 7)
	j.Ack()
	// The client's stanzas are counted once routed.
	if h := j.Handled(); h != 0 {
		t.Fatalf("h = %d before juliet sent anything", h)
	}
	j.Send("<message to='romeo@localhost/orchard' type='chat'><body>hi</body></message>")
	if h := j.Handled(); h != 1 {
		t.Fatalf("h = %d, want 1", h)
	}
	xmpptest.ExpectBody(t, r.Next(), "juliet@localhost/balcony", "hi")
	// Acknowledging more than was sent ends the stream.
	j.C.Send("<a xmlns='urn:xmpp:sm:3' h='100'/>")
	j.C.ExpectStreamError("undefined-condition")
}

func TestSMEnableBeforeBindFails(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Authenticated("juliet", "pw")
	c.Send("<enable xmlns='urn:xmpp:sm:3'/>")
	if el := c.NextNamed("failed"); el.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "unexpected-request") == nil {
		t.Fatalf("got %s", el)
	}
	c.Bind("b")
	if sm := c.EnableSM(); sm.ID == "" {
		t.Fatal("no id")
	}
}

// A connection cut without </stream:stream> is resumed from another
// address; the client acknowledged 2 of 3 messages, so the third and what
// came meanwhile arrive exactly once. Then a second resumption of the same
// id takes the session over, and another account cannot resume it.
func TestSMResume(t *testing.T) {
	s, j, r := smPair(t)
	for n := 1; n <= 3; n++ {
		r.Send(chat("juliet@localhost/balcony", n))
		expectBody(t, j.Next(), n)
	}
	j.C.Conn.Close()
	for n := 4; n <= 5; n++ {
		r.Send(chat("juliet@localhost/balcony", n))
	}
	r.Ping() // routed: queued for the waiting session

	j2 := xmpptest.DialFrom(t, "127.0.0.2", s.C2SAddr)
	j2.Authenticated("juliet", "pw")
	el := j2.Resume(j.ID, 2)
	if el.Name.Local != "resumed" || el.Attr("previd") != j.ID || el.Attr("h") != "0" {
		t.Fatalf("got %s, want <resumed h='0'/>", el)
	}
	sm2 := &xmpptest.SM{C: j2, ID: j.ID, H: 2, AutoAck: true}
	for n := 3; n <= 5; n++ {
		expectBody(t, sm2.Next(), n)
	}
	sm2.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := sm2.Next(); el.Name.Local != "iq" || el.Attr("id") != "barrier" {
		t.Fatalf("got %s, want only the ping result (no duplicate)", el)
	}

	// Romeo cannot resume Juliet's session.
	rc := xmpptest.Dial(t, s.C2SAddr)
	rc.Authenticated("romeo", "pw")
	if el := rc.Resume(j.ID, 0); el.Name.Local != "failed" || el.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found") == nil {
		t.Fatalf("romeo resuming juliet's session: got %s", el)
	}

	// Resuming again while attached takes over; the old connection closes.
	j3 := xmpptest.Dial(t, s.C2SAddr)
	j3.Authenticated("juliet", "pw")
	if el := j3.Resume(j.ID, sm2.H); el.Name.Local != "resumed" || el.Attr("h") != "1" {
		t.Fatalf("second resumption: got %s", el)
	}
	for {
		if _, err := j2.NextErr(); err != nil {
			break
		}
	}
	r.Send(chat("juliet@localhost/balcony", 6))
	sm3 := &xmpptest.SM{C: j3, ID: j.ID, H: sm2.H, AutoAck: true}
	expectBody(t, sm3.Next(), 6)
	if s.Router().SessionCount() != 2 {
		t.Fatalf("%d sessions bound, want 2", s.Router().SessionCount())
	}
}

// After the resumption timeout the session ends: its unacknowledged
// messages are routed again (offline storage, or bounced to the sender
// while offline storage is not wired) and resumption fails with the count.
func TestSMResumeTimeout(t *testing.T) {
	unbound := make(chan jid.JID, 10)
	s, j, r := smPair(t, func(c *config.Config) { c.C2S.ResumeSeconds = 1 })
	_ = s
	s.Router().OnUnbind(func(x jid.JID) { unbound <- x })
	j.Send("<presence/>")
	j.Next() // own presence
	r.Send(chat("juliet@localhost/balcony", 1))
	r.Send(chat("juliet@localhost", 2))
	expectBody(t, j.Next(), 1)
	expectBody(t, j.Next(), 2)
	j.C.Conn.Close()
	if x := <-unbound; x.String() != "juliet@localhost/balcony" {
		t.Fatalf("unbound %s", x)
	}
	// Offline storage is a stub until offline/ is wired: the messages come
	// back to their sender as errors; with it, juliet's next login gets them.
	r.Send("<message to='juliet@localhost' type='chat'><body>probe</body></message>")
	r.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	var bounced []string
	for pinged := false; !pinged || (len(bounced) > 0 && len(bounced) < 3); {
		el := r.Next()
		if el.Name.Local == "iq" {
			pinged = true
		}
		if el.Name.Local == "message" && el.Attr("type") == "error" {
			bounced = append(bounced, el.Child("jabber:client", "body").Text())
		}
	}
	sort.Strings(bounced)
	j2 := xmpptest.Dial(t, s.C2SAddr)
	j2.Authenticated("juliet", "pw")
	el := j2.Resume(j.ID, 2)
	if el.Name.Local != "failed" || el.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found") == nil || el.Attr("h") != "1" {
		t.Fatalf("resume after the timeout: got %s", el)
	}
	if len(bounced) > 0 {
		if fmt.Sprint(bounced) != "[m1 m2 probe]" {
			t.Fatalf("bounced %v, want m1 m2 and the probe", bounced)
		}
		t.Logf("offline storage not wired: re-routed messages bounced to the sender %v", bounced)
		return
	}
	j2.Bind("balcony")
	j2.Send("<presence/>")
	var got []string
	j2.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	// The re-routing may still be storing m2 when j2 comes online: it is
	// then delivered as soon as it is stored, maybe after the barrier.
	for len(got) < 3 {
		el := j2.Next()
		if b := el.Child("jabber:client", "body"); el.Name.Local == "message" && b != nil {
			got = append(got, b.Text())
		}
	}
	sort.Strings(got) // the probe may overtake the re-routing
	if fmt.Sprint(got) != "[m1 m2 probe]" {
		t.Fatalf("offline messages %v, want m1 m2 probe", got)
	}
}

func TestCSI(t *testing.T) {
	_, j, r := smPair(t)
	j.Send("<presence/>")
	j.Next()
	j.C.Send("<inactive xmlns='urn:xmpp:csi:0'/>")
	// A round trip after it: the server reads juliet's stream in order,
	// so romeo's stanzas below find her inactive.
	j.Send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := j.Next(); el.Name.Local != "iq" || el.Attr("id") != "sync" {
		t.Fatalf("got %s, want the ping's result", el)
	}
	// Presence directed to juliet is held and collapsed; chat states wait.
	r.Send("<presence to='juliet@localhost/balcony'><show>away</show></presence>")
	r.Send("<message to='juliet@localhost/balcony' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	r.Send("<presence to='juliet@localhost/balcony'><show>dnd</show></presence>")
	r.Ping()
	// A message with a body goes out at once, after what was held.
	r.Send(chat("juliet@localhost/balcony", 1))
	if el := j.Next(); el.Child("http://jabber.org/protocol/chatstates", "composing") == nil {
		t.Fatalf("got %s, want the held chat state first", el)
	}
	if el := j.Next(); el.Name.Local != "presence" || el.Child("jabber:client", "show").Text() != "dnd" {
		t.Fatalf("got %s, want only the latest presence", el)
	}
	expectBody(t, j.Next(), 1)
	// Held until active.
	r.Send("<presence to='juliet@localhost/balcony'><show>xa</show></presence>")
	r.Ping()
	j.C.Send("<active xmlns='urn:xmpp:csi:0'/>")
	if el := j.Next(); el.Name.Local != "presence" || el.Child("jabber:client", "show").Text() != "xa" {
		t.Fatalf("got %s, want the held presence on active", el)
	}
}

// TestCSIPresenceFromSelf: an inactive, stream-managed session sends
// itself two presences; the second replaces the first, held, whose
// sender (this same session) is told it is done with. That must not wait
// for the session's own lock, which its delivery holds.
func TestCSIPresenceFromSelf(t *testing.T) {
	_, j, _ := smPair(t)
	j.Send("<presence/>")
	j.Next()
	j.C.Send("<inactive xmlns='urn:xmpp:csi:0'/>")
	j.Send("<presence to='juliet@localhost/balcony'><show>away</show></presence>")
	j.Send("<presence to='juliet@localhost/balcony'><show>dnd</show></presence>")
	j.Send("<iq type='get' id='after'><ping xmlns='urn:xmpp:ping'/></iq>")
	for {
		if el := j.Next(); el.Name.Local == "iq" && el.Attr("id") == "after" {
			return
		}
	}
}

// TestRerouteKeepsArchive: a message whose recipient's session ended
// before the client acknowledged it goes to offline storage, and the
// next session gets it with the stanza id it had: it is not archived a
// second time, in either archive.
func TestRerouteKeepsArchive(t *testing.T) {
	s, j, r := smPair(t)
	j.AutoAck = false
	j.Send("<presence/>")
	j.Next()
	r.Send(chat("juliet@localhost/balcony", 1))
	first := j.Next()
	expectBody(t, first, 1)
	j.C.Send("</stream:stream>")

	j2 := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	j2.Send("<presence/>")
	var again *xmlstream.Element
	for again == nil {
		if el := j2.Next(); el.Name.Local == "message" {
			again = el
		}
	}
	expectBody(t, again, 1)
	id := func(m *xmlstream.Element) string {
		sid := m.Child("urn:xmpp:sid:0", "stanza-id")
		if sid == nil {
			t.Fatalf("no stanza id in %s", m)
		}
		return sid.Attr("id")
	}
	if id(again) != id(first) {
		t.Errorf("stanza id %s the second time, want %s", id(again), id(first))
	}
	for _, user := range []string{"juliet", "romeo"} {
		var n int
		if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM archive_messages WHERE username = $1`, user).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s's archive holds %d messages, want 1", user, n)
		}
	}
}

// TestResumeWithStanzasOnTheirWay: juliet's message waits for romeo's
// client to acknowledge it when her connection drops, so <resumed/> does
// not count it, and her client sends it again (XEP-0198 §5). Her count
// then follows what she sent after the resumption: the copy she sent
// before counts no more when it becomes safe, so the count never exceeds
// what she sent, which clients treat as an error.
func TestResumeWithStanzasOnTheirWay(t *testing.T) {
	s, j, _ := smPair(t)
	romeo := xmpptest.LoginSM(t, s, "romeo", "pw", "garden")
	romeo.AutoAck = false
	msg := "<message to='romeo@localhost/garden' type='chat' id='m1'><body>once</body></message>"
	j.Send(msg)
	romeo.Next()
	if h := j.Handled(); h != 0 {
		t.Fatalf("juliet's count %d before romeo acknowledged, want 0", h)
	}

	j.C.Conn.Close()
	j2 := xmpptest.DialFrom(t, "127.0.0.2", s.C2SAddr)
	j2.Authenticated("juliet", "pw")
	if el := j2.Resume(j.ID, 0); el.Name.Local != "resumed" || el.Attr("h") != "0" {
		t.Fatalf("got %s, want <resumed h='0'/>", el)
	}
	sm2 := &xmpptest.SM{C: j2, ID: j.ID, AutoAck: true}
	sm2.Send(msg) // resent, as XEP-0198 says
	romeo.Next()  // the copy: may arrive twice
	romeo.Ack()   // both
	romeo.C.Send("<iq type='get' id='sync' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	for el := romeo.Next(); el.Attr("id") != "sync"; el = romeo.Next() {
	}
	// Past any <a/> the server sent on its own meanwhile.
	sm2.Send("<iq type='get' id='sync' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	for el := sm2.Next(); el.Attr("id") != "sync"; el = sm2.Next() {
	}
	if h := sm2.Handled(); h != sm2.Sent {
		t.Fatalf("juliet's count %d after the resumption, want %d: what she sent since", h, sm2.Sent)
	}
}

// TestCSIHeldIsAcknowledged: what an inactive client's session holds back
// (XEP-0352) does not hold back its sender's acknowledgements
// (XEP-0198): romeo's <r/> is answered with every stanza he sent counted,
// while juliet stays inactive; she still gets them when active.
func TestCSIHeldIsAcknowledged(t *testing.T) {
	s, j, _ := smPair(t)
	j.Send("<presence/>")
	j.Next()
	j.C.Send("<inactive xmlns='urn:xmpp:csi:0'/>")
	j.Send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := j.Next(); el.Attr("id") != "sync" {
		t.Fatalf("got %s, want the ping's result", el)
	}
	romeo := xmpptest.LoginSM(t, s, "romeo", "pw", "garden")
	romeo.Send("<message to='juliet@localhost/balcony' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	romeo.Send("<message to='juliet@localhost/balcony' type='chat'><received xmlns='urn:xmpp:receipts' id='x'/></message>")
	if h := romeo.Handled(); h != romeo.Sent {
		t.Fatalf("romeo's <a/> counts %d of his %d stanzas while juliet holds them", h, romeo.Sent)
	}
	j.C.Send("<active xmlns='urn:xmpp:csi:0'/>")
	if el := j.Next(); el.Child("http://jabber.org/protocol/chatstates", "composing") == nil {
		t.Fatalf("got %s, want the held chat state", el)
	}
	if el := j.Next(); el.Child("urn:xmpp:receipts", "received") == nil {
		t.Fatalf("got %s, want the held receipt", el)
	}
}

// TestSMHandledCountTooHigh: a client acknowledging more stanzas than the
// server sent, in <resume/> or in <a/>, gets the stream error
// undefined-condition with <handled-count-too-high/> telling both counts
// (XEP-0198 §4). The session it named with too high a count is kept: it
// resumes with the right one.
func TestSMHandledCountTooHigh(t *testing.T) {
	s, j, r := smPair(t)
	j.AutoAck = false
	for n := 1; n <= 2; n++ {
		r.Send(chat("juliet@localhost/balcony", n))
		expectBody(t, j.Next(), n)
	}
	j.C.Conn.Close()

	j2 := xmpptest.DialFrom(t, "127.0.0.2", s.C2SAddr)
	j2.Authenticated("juliet", "pw")
	expectHandledTooHigh(t, j2, j2.Resume(j.ID, 5), "5", "2")

	j3 := xmpptest.DialFrom(t, "127.0.0.2", s.C2SAddr)
	j3.Authenticated("juliet", "pw")
	if el := j3.Resume(j.ID, 1); el.Name.Local != "resumed" {
		t.Fatalf("resuming with h 1: got %s", el)
	}
	sm := &xmpptest.SM{C: j3, ID: j.ID, H: 1}
	expectBody(t, sm.Next(), 2)
	j3.Send("<a xmlns='urn:xmpp:sm:3' h='4'/>")
	expectHandledTooHigh(t, j3, j3.Next(), "4", "2")
}

// expectHandledTooHigh checks that el is the stream error of XEP-0198 §4
// for the count h when the server sent sent stanzas, and that c's stream
// ends after it.
func expectHandledTooHigh(t *testing.T, c *xmpptest.Client, el *xmlstream.Element, h, sent string) {
	t.Helper()
	if el.Name.Space != "http://etherx.jabber.org/streams" || el.Name.Local != "error" || el.Child("urn:ietf:params:xml:ns:xmpp-streams", "undefined-condition") == nil {
		t.Fatalf("got %s, want the stream error undefined-condition", el)
	}
	if too := el.Child(nsSM, "handled-count-too-high"); too == nil || too.Attr("h") != h || too.Attr("send-count") != sent {
		t.Fatalf("got %s, want <handled-count-too-high h='%s' send-count='%s'/>", el, h, sent)
	}
	if _, err := c.NextErr(); err == nil {
		t.Fatalf("stream not closed after the stream error")
	}
}
