package c2s_test

import (
	"fmt"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// nextMessage returns the next message c receives, past presence.
func nextMessage(c *xmpptest.Client) *xmlstream.Element {
	c.T.Helper()
	for {
		if el := c.Next(); el.Name.Local == "message" {
			return el
		}
	}
}

// TestRerouteNotToWhoHasIt: a message to juliet's bare JID reaches both
// her resources, of equal priority. When balcony's session ends before
// its client acknowledged it, garden, which has it, does not get it again
// (but does get what only balcony had). When garden ends unacknowledged
// too, nobody has the message any more: it goes to offline storage, once.
func TestRerouteNotToWhoHasIt(t *testing.T) {
	logs := xmpptest.NewRecords()
	s := xmpptest.StartLogged(t, logs.Logger())
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	r := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	resource := func(name string) *xmpptest.SM {
		sm := xmpptest.LoginSM(t, s, "juliet", "pw", name)
		sm.AutoAck = false
		sm.Send("<presence/>")
		sm.C.MessagesBeforePing()
		return sm
	}
	balcony, garden := resource("balcony"), resource("garden")

	r.Send(chat("juliet@localhost", 1))
	r.Send(chat("juliet@localhost/balcony", 2)) // balcony's alone
	r.Ping()                                    // both routed
	if m := nextMessage(garden.C); m.Child("jabber:client", "body").Text() != "m1" {
		t.Fatalf("garden got %s, want m1", m)
	}
	balcony.C.Send("</stream:stream>")
	// m2 is routed again after m1: garden gets m2 next, not m1 again.
	if m := nextMessage(garden.C); m.Child("jabber:client", "body").Text() != "m2" {
		t.Fatalf("garden got %s after balcony ended, want m2 (and m1 only once)", m)
	}

	garden.C.Send("</stream:stream>")
	logs.Wait(t, "c2s re-routed unacknowledged messages", "jid", "juliet@localhost/garden")
	w := xmpptest.Login(t, s, "juliet", "pw", "window")
	w.Send("<presence/>")
	var got []string
	for _, m := range w.MessagesBeforePing() {
		got = append(got, m.Child("jabber:client", "body").Text())
	}
	if fmt.Sprint(got) != "[m1 m2]" {
		t.Fatalf("offline messages %v, want [m1 m2]", got)
	}
}

// TestRerouteToCarbonHolder: garden has carbons enabled, so it got a copy
// of a message to balcony. When balcony's session ends before its client
// acknowledged the message, garden gets the message itself, with the
// copy's stanza id: a copy is never routed again, so were garden to end
// unacknowledged too, the message would otherwise reach no session and
// no offline storage.
func TestRerouteToCarbonHolder(t *testing.T) {
	s, j, r := smPair(t)
	j.AutoAck = false
	j.Send("<presence/>")
	j.C.MessagesBeforePing()
	g := xmpptest.Login(t, s, "juliet", "pw", "garden")
	g.Send("<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
	g.Send("<presence/>")
	g.MessagesBeforePing()

	r.Send(chat("juliet@localhost/balcony", 1))
	r.Ping()
	carbon := nextMessage(g)
	fwd := carbon.Child("urn:xmpp:carbons:2", "received").Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message")
	if fwd == nil {
		t.Fatalf("garden got %s, want the carbon of m1", carbon)
	}
	j.C.Send("</stream:stream>")
	m := nextMessage(g)
	if body := m.Child("jabber:client", "body"); body == nil || body.Text() != "m1" {
		t.Fatalf("garden got %s after balcony ended, want m1", m)
	}
	want := fwd.Child("urn:xmpp:sid:0", "stanza-id")
	got := m.Child("urn:xmpp:sid:0", "stanza-id")
	if want == nil || got == nil || got.Attr("id") != want.Attr("id") {
		t.Fatalf("m1 came again as %s, want the stanza id of its copy %s", m, fwd)
	}
}

// TestRerouteForgedCarbon: a carbon copy comes from the account's own
// bare JID (XEP-0280 §11). A message from someone else that carries a
// <sent/> or <received/> of its own is not one: when the session it
// reached ends before its client acknowledged it, it is routed again like
// any other message, and reaches the account's other resource.
func TestRerouteForgedCarbon(t *testing.T) {
	s, j, r := smPair(t)
	j.AutoAck = false
	j.Send("<presence/>")
	j.C.MessagesBeforePing()
	g := xmpptest.Login(t, s, "juliet", "pw", "garden")
	g.Send("<presence/>")
	g.MessagesBeforePing()

	r.Send("<message to='juliet@localhost/balcony' type='chat'><body>m1</body><sent xmlns='urn:xmpp:carbons:2'/></message>")
	r.Send(chat("juliet@localhost/balcony", 2))
	r.Ping()
	j.C.Send("</stream:stream>")
	for _, n := range []int{1, 2} {
		m := nextMessage(g)
		if body := m.Child("jabber:client", "body"); body == nil || body.Text() != fmt.Sprintf("m%d", n) {
			t.Fatalf("garden got %s after balcony ended, want m%d", m, n)
		}
	}
}

// TestRerouteNotArchiveResults: the results of an archive query answer
// the session that asked; when it ends before its client acknowledged
// them, they go nowhere (they are in the archive), not to another
// resource or to offline storage as messages from the archive's owner.
func TestRerouteNotArchiveResults(t *testing.T) {
	logs := xmpptest.NewRecords()
	s := xmpptest.StartLogged(t, logs.Logger())
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	r := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	r.Send(chat("juliet@localhost", 1)) // stored offline and archived
	r.Ping()

	j := xmpptest.LoginSM(t, s, "juliet", "pw", "balcony")
	j.AutoAck = false
	j.Send("<iq type='set' id='q'><query xmlns='urn:xmpp:mam:2' queryid='page'/></iq>")
	for el := j.C.Next(); el.Attr("id") != "q"; el = j.C.Next() {
	}
	j.C.Send("</stream:stream>")
	logs.Wait(t, "c2s closed", "jid", "juliet@localhost/balcony")

	w := xmpptest.Login(t, s, "juliet", "pw", "window")
	w.Send("<presence/>")
	for _, m := range w.MessagesBeforePing() {
		if m.Child("urn:xmpp:mam:2", "result") != nil {
			t.Fatalf("the window got an archive result the balcony asked for: %s", m)
		}
	}
}
