package muc_test

import (
	"slices"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	service = "conference.localhost"
	room    = "verona@" + service
	nsMUC   = "http://jabber.org/protocol/muc"
	nsUser  = nsMUC + "#user"
)

// users are the accounts of every test server.
var users = []string{"juliet", "romeo", "nurse", "tybalt", "mercutio"}

func start(t *testing.T) *xmpptest.Server {
	t.Helper()
	s := xmpptest.Start(t)
	for _, u := range users {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	return s
}

// online logs user in, resource "r", and sends initial presence.
func online(t *testing.T, s *xmpptest.Server, user string) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Login(t, s, user, "pw", "r")
	c.Online()
	return c
}

// codes returns the muc#user status codes of a presence or message.
func codes(el *xmlstream.Element) []string {
	var cs []string
	if x := el.Child(nsUser, "x"); x != nil {
		for _, st := range x.ChildElements() {
			if st.Name.Local == "status" {
				cs = append(cs, st.Attr("code"))
			}
		}
	}
	slices.Sort(cs)
	return cs
}

// item returns the muc#user item of el.
func item(t *testing.T, el *xmlstream.Element) *xmlstream.Element {
	t.Helper()
	it := el.Child(nsUser, "x")
	if it != nil {
		it = it.Child(nsUser, "item")
	}
	if it == nil {
		t.Fatalf("no muc#user item in %s", el)
	}
	return it
}

// expectPresence reads a presence from from with exactly the status
// codes given (sorted) and returns it.
func expectPresence(t *testing.T, c *xmpptest.Client, from, typ string, want ...string) *xmlstream.Element {
	t.Helper()
	el := c.ExpectPresenceFrom(from)
	if el.Attr("type") != typ || !slices.Equal(codes(el), want) {
		t.Fatalf("%s: got %s, want presence type %q with codes %v", c.JID, el, typ, want)
	}
	return el
}

// expectSubject reads the subject message that ends entering a room.
func expectSubject(t *testing.T, c *xmpptest.Client, subject string) {
	t.Helper()
	el := c.NextNamed("message")
	s := el.Child("jabber:client", "subject")
	if el.Attr("type") != "groupchat" || s == nil || s.Text() != subject || el.Child("jabber:client", "body") != nil {
		t.Fatalf("%s: got %s, want the subject %q", c.JID, el, subject)
	}
}

// expectIQ reads the answer to the IQ id and checks its type.
func expectIQ(t *testing.T, c *xmpptest.Client, id, typ string) *xmlstream.Element {
	t.Helper()
	el := c.NextNamed("iq")
	if el.Attr("id") != id || el.Attr("type") != typ {
		t.Fatalf("%s: got %s, want IQ %s of type %s", c.JID, el, id, typ)
	}
	return el
}

// create has c create the instant room name as nick (XEP-0045 §10.1.2).
func create(t *testing.T, c *xmpptest.Client, name, nick string) {
	t.Helper()
	c.Send("<presence to='" + name + "/" + nick + "'><x xmlns='" + nsMUC + "'/></presence>")
	el := expectPresence(t, c, name+"/"+nick, "", "110", "170", "201")
	if it := item(t, el); it.Attr("affiliation") != "owner" || it.Attr("role") != "moderator" {
		t.Fatalf("creator is not owner and moderator: %s", el)
	}
	expectSubject(t, c, "")
	submit(c, name, "")
	expectIQ(t, c, "cfg", "result")
}

// createWithRomeo has juliet create the instant room as "jul" and romeo
// enter it as "romeo".
func createWithRomeo(t *testing.T, juliet, romeo *xmpptest.Client) {
	t.Helper()
	create(t, juliet, room, "jul")
	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "")
	expectPresence(t, juliet, room+"/romeo", "")
}

// nurseEnters has nurse enter the room juliet and romeo are in
// (createWithRomeo), and them see her enter.
func nurseEnters(t *testing.T, juliet, romeo, nurse *xmpptest.Client) {
	t.Helper()
	enter(t, nurse, room, "nurse", "", []string{"jul", "romeo"}, 0, "")
	expectPresence(t, juliet, room+"/nurse", "")
	expectPresence(t, romeo, room+"/nurse", "")
}

// submit sends the room configuration form with fields, as <field/>
// elements; "" makes a new room an instant room.
func submit(c *xmpptest.Client, name, fields string) {
	c.Send("<iq type='set' id='cfg' to='" + name + "'><query xmlns='" + nsMUC + "#owner'>" +
		"<x xmlns='jabber:x:data' type='submit'>" + fields + "</x></query></iq>")
}

// configure has c, an owner in the room, change its configuration: it
// reads the room's notice of the change (§10.2.1) with the status codes
// want (sorted, 104 among them), and the result.
func configure(t *testing.T, c *xmpptest.Client, name, fields string, want ...string) {
	t.Helper()
	submit(c, name, fields)
	expectConfigNotice(t, c, name, want...)
	expectIQ(t, c, "cfg", "result")
}

// expectConfigNotice reads the room's message that its configuration
// changed, with the status codes 104 and want (sorted, all above 104).
func expectConfigNotice(t *testing.T, c *xmpptest.Client, name string, want ...string) {
	t.Helper()
	el := c.NextNamed("message")
	if el.Attr("from") != name || el.Attr("type") != "groupchat" || !slices.Equal(codes(el), append([]string{"104"}, want...)) {
		t.Fatalf("%s: got %s, want the configuration change notice with 104 %v", c.JID, el, want)
	}
}

// field is a submitted form field.
func field(name, value string) string {
	return "<field var='" + name + "'><value>" + value + "</value></field>"
}

// enter has c enter room as nick; it reads the other occupants'
// presence (others, in any order) and its own, then history (n
// messages) and the subject.
func enter(t *testing.T, c *xmpptest.Client, name, nick, extra string, others []string, history int, subject string) []*xmlstream.Element {
	t.Helper()
	c.Send("<presence to='" + name + "/" + nick + "'><x xmlns='" + nsMUC + "'>" + extra + "</x></presence>")
	seen := map[string]bool{}
	for range others {
		el := c.NextNamed("presence")
		seen[el.Attr("from")] = true
	}
	for _, o := range others {
		if !seen[name+"/"+o] {
			t.Fatalf("%s: no presence of %s on entering; got %v", c.JID, o, seen)
		}
	}
	expectPresence(t, c, name+"/"+nick, "", "110", "170")
	var hist []*xmlstream.Element
	for range history {
		hist = append(hist, c.NextNamed("message"))
	}
	expectSubject(t, c, subject)
	return hist
}

// hasFeature reports whether the disco#info query q announces f.
func hasFeature(q *xmlstream.Element, f string) bool {
	for _, c := range q.ChildElements() {
		if c.Name.Local == "feature" && c.Attr("var") == f {
			return true
		}
	}
	return false
}
