package vcard_test

import (
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

// maxBytes is the vCard limit of the test servers (the smallest allowed).
const maxBytes = 1024

// start returns a server with the accounts juliet and romeo.
func start(t *testing.T) *xmpptest.Server {
	s := xmpptest.Start(t, func(c *config.Config) { c.VCard.MaxBytes = maxBytes })
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	return s
}

// expectResult checks that el is the result of the IQ id from from, and
// that its payload is the XML want ("" for none).
func expectResult(t *testing.T, el *xmlstream.Element, id, from, want string) {
	t.Helper()
	if el.Name.Local != "iq" || el.Attr("type") != "result" || el.Attr("id") != id || el.Attr("from") != from {
		t.Fatalf("got %s, want the result of %s from %s", el, id, from)
	}
	got := el.FirstChildElement()
	if want == "" {
		if got != nil {
			t.Fatalf("result %s has a payload, want none", el)
		}
		return
	}
	w, err := xmlstream.ParseElement([]byte(want), xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(w) {
		t.Fatalf("got payload %s, want %s", got, w)
	}
}

func expectError(t *testing.T, el *xmlstream.Element, id, condition string) {
	t.Helper()
	e := el.Child("jabber:client", "error")
	if el.Name.Local != "iq" || el.Attr("type") != "error" || el.Attr("id") != id || e == nil || e.Child(nsStanzas, condition) == nil {
		t.Fatalf("got %s, want a %s error to %s", el, condition, id)
	}
}

const julietsCard = "<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><N><FAMILY>Capulet</FAMILY><GIVEN>Juliet</GIVEN></N><NICKNAME>jc</NICKNAME></vCard>"

func TestRoundTrip(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")

	// Juliet sets her vCard without 'to' and reads it back.
	juliet.Send("<iq type='set' id='s1'>" + julietsCard + "</iq>")
	expectResult(t, juliet.NextNamed("iq"), "s1", "juliet@localhost", "")
	juliet.Send("<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>")
	expectResult(t, juliet.NextNamed("iq"), "g1", "juliet@localhost", julietsCard)

	// Romeo reads it from her bare JID; the server answers, not her client.
	romeo.Send("<iq type='get' id='g2' to='juliet@localhost'><vCard xmlns='vcard-temp'/></iq>")
	expectResult(t, romeo.NextNamed("iq"), "g2", "juliet@localhost", julietsCard)

	// Setting to her own bare JID replaces the whole vCard.
	juliet.Send("<iq type='set' id='s2' to='juliet@localhost'><vCard xmlns='vcard-temp'><FN>J.</FN></vCard></iq>")
	expectResult(t, juliet.NextNamed("iq"), "s2", "juliet@localhost", "")
	romeo.Send("<iq type='get' id='g3' to='juliet@localhost'><vCard xmlns='vcard-temp'/></iq>")
	expectResult(t, romeo.NextNamed("iq"), "g3", "juliet@localhost", "<vCard xmlns='vcard-temp'><FN>J.</FN></vCard>")
	juliet.Ping() // nothing was forwarded to Juliet's client
}

func TestNoVCard(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	// One's own missing vCard is empty (XEP-0054 §3.1).
	juliet.Send("<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>")
	expectResult(t, juliet.NextNamed("iq"), "g1", "juliet@localhost", "<vCard xmlns='vcard-temp'/>")
	// Another account's is an error (§3.3).
	juliet.Send("<iq type='get' id='g2' to='romeo@localhost'><vCard xmlns='vcard-temp'/></iq>")
	expectError(t, juliet.NextNamed("iq"), "g2", "item-not-found")
	juliet.Send("<iq type='get' id='g3' to='tybalt@localhost'><vCard xmlns='vcard-temp'/></iq>")
	expectError(t, juliet.NextNamed("iq"), "g3", "service-unavailable")
}

func TestRefusedSets(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	juliet.Send("<iq type='set' id='s1'>" + julietsCard + "</iq>")
	expectResult(t, juliet.NextNamed("iq"), "s1", "juliet@localhost", "")

	tests := []struct {
		name, send, condition string
	}{
		{"someone else's", "<iq type='set' id='x' to='juliet@localhost'><vCard xmlns='vcard-temp'><FN>Romeo</FN></vCard></iq>", "forbidden"},
		{"unknown account's", "<iq type='set' id='x' to='tybalt@localhost'><vCard xmlns='vcard-temp'><FN>Romeo</FN></vCard></iq>", "service-unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			romeo.Send(tt.send)
			expectError(t, romeo.NextNamed("iq"), "x", tt.condition)
		})
	}

	// Too large for one's own vCard.
	juliet.Send("<iq type='set' id='s2'><vCard xmlns='vcard-temp'><DESC>" + strings.Repeat("x", maxBytes) + "</DESC></vCard></iq>")
	expectError(t, juliet.NextNamed("iq"), "s2", "not-acceptable")
	// Just within the limit is fine.
	fits := "<vCard xmlns='vcard-temp'><DESC>" + strings.Repeat("x", maxBytes-len("<vCard xmlns='vcard-temp'><DESC></DESC></vCard>")) + "</DESC></vCard>"
	romeo.Send("<iq type='set' id='s3'>" + fits + "</iq>")
	expectResult(t, romeo.NextNamed("iq"), "s3", "romeo@localhost", "")

	// Juliet's vCard is unchanged.
	romeo.Send("<iq type='get' id='g1' to='juliet@localhost'><vCard xmlns='vcard-temp'/></iq>")
	expectResult(t, romeo.NextNamed("iq"), "g1", "juliet@localhost", julietsCard)
}

func TestPersistsAcrossSessions(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Send("<iq type='set' id='s1'>" + julietsCard + "</iq>")
	expectResult(t, juliet.NextNamed("iq"), "s1", "juliet@localhost", "")
	juliet.Send("</stream:stream>")
	juliet.Conn.Close()

	again := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	again.Send("<iq type='get' id='g1'><vCard xmlns='vcard-temp'/></iq>")
	expectResult(t, again.NextNamed("iq"), "g1", "juliet@localhost", julietsCard)
}

func TestDiscoFeature(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Send("<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := juliet.NextNamed("iq").Child("http://jabber.org/protocol/disco#info", "query")
	for _, f := range q.ChildElements() {
		if f.Name.Local == "feature" && f.Attr("var") == "vcard-temp" {
			return
		}
	}
	t.Fatalf("vcard-temp missing from %s", q)
}
