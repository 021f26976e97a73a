package private_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

// maxBytes is the per-account limit of the test servers: the server
// shares vcard.max_bytes, whose smallest allowed value this is.
const maxBytes = 1024

// start returns a server with the accounts juliet and romeo, and juliet
// logged in.
func start(t *testing.T) (*xmpptest.Server, *xmpptest.Client) {
	s := xmpptest.Start(t, func(c *config.Config) { c.VCard.MaxBytes = maxBytes })
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	return s, xmpptest.Login(t, s, "juliet", "secret", "balcony")
}

// exchange sends the IQ send, whose id must be 'q', and checks that the
// answer is a result with the payload want ("" for none).
func exchange(t *testing.T, c *xmpptest.Client, send, want string) {
	t.Helper()
	c.Send(send)
	el := c.NextNamed("iq")
	if el.Attr("type") != "result" || el.Attr("id") != "q" {
		t.Fatalf("sent %s\ngot %s, want a result", send, el)
	}
	got := el.FirstChildElement()
	if want == "" {
		if got != nil {
			t.Fatalf("sent %s\ngot %s, want a result without payload", send, el)
		}
		return
	}
	w, err := xmlstream.ParseElement([]byte(want), xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(w) {
		t.Fatalf("sent %s\ngot %s\nwant %s", send, got, w)
	}
}

// refused sends the IQ send, whose id must be 'q', and checks that the
// answer is a condition error.
func refused(t *testing.T, c *xmpptest.Client, send, condition string) {
	t.Helper()
	c.Send(send)
	el := c.NextNamed("iq")
	e := el.Child("jabber:client", "error")
	if el.Attr("type") != "error" || el.Attr("id") != "q" || e == nil || e.Child(nsStanzas, condition) == nil {
		t.Fatalf("sent %s\ngot %s, want a %s error", send, el, condition)
	}
}

const (
	bookmarks = "<storage xmlns='storage:bookmarks'><conference jid='balcony@rooms.localhost' autojoin='true' name='Balcony'><nick>Juliet</nick></conference></storage>"
	notes     = "<storage xmlns='storage:rosternotes'><note jid='romeo@localhost'>Wherefore art thou</note></storage>"
)

func query(children ...string) string {
	return "<query xmlns='jabber:iq:private'>" + strings.Join(children, "") + "</query>"
}

func set(children ...string) string { return "<iq type='set' id='q'>" + query(children...) + "</iq>" }
func get(child string) string       { return "<iq type='get' id='q'>" + query(child) + "</iq>" }

func TestRoundTrip(t *testing.T) {
	s, juliet := start(t)
	// Nothing stored: the empty element asked for comes back.
	exchange(t, juliet, get("<storage xmlns='storage:bookmarks'/>"), query("<storage xmlns='storage:bookmarks'/>"))

	exchange(t, juliet, set(bookmarks), "")
	exchange(t, juliet, get("<storage xmlns='storage:bookmarks'/>"), query(bookmarks))

	// Another namespace is independent of the first.
	exchange(t, juliet, get("<storage xmlns='storage:rosternotes'/>"), query("<storage xmlns='storage:rosternotes'/>"))
	exchange(t, juliet, set(notes), "")
	exchange(t, juliet, get("<storage xmlns='storage:rosternotes'/>"), query(notes))
	exchange(t, juliet, get("<storage xmlns='storage:bookmarks'/>"), query(bookmarks))

	// A set replaces what its namespace held; several elements of one
	// namespace are kept together.
	prefs := []string{"<exodus xmlns='exodus:prefs'><defaultnick>Juliet</defaultnick></exodus>", "<exodus xmlns='exodus:prefs'><sound>off</sound></exodus>"}
	exchange(t, juliet, set(prefs...), "")
	exchange(t, juliet, get("<exodus xmlns='exodus:prefs'/>"), query(prefs...))
	exchange(t, juliet, set("<storage xmlns='storage:bookmarks'/>"), "")
	exchange(t, juliet, get("<storage xmlns='storage:bookmarks'/>"), query("<storage xmlns='storage:bookmarks'/>"))

	// Addressed to her own bare JID, and from another session later, it is the same data.
	exchange(t, juliet, "<iq type='get' id='q' to='juliet@localhost'>"+query("<storage xmlns='storage:rosternotes'/>")+"</iq>", query(notes))
	juliet.Send("</stream:stream>")
	juliet.Conn.Close()
	again := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	exchange(t, again, get("<storage xmlns='storage:rosternotes'/>"), query(notes))

	// Romeo has his own storage.
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	exchange(t, romeo, get("<storage xmlns='storage:rosternotes'/>"), query("<storage xmlns='storage:rosternotes'/>"))
}

// unrepeated returns n hex digits that do not repeat, so that the
// database cannot compress them.
func unrepeated(n int) string {
	sum := sha256.Sum256([]byte("unrepeated"))
	var b strings.Builder
	for b.Len() < n {
		sum = sha256.Sum256(sum[:])
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()[:n]
}

// A namespace longer than the database's index takes is refused as
// not-acceptable, under the default limit that its data would fit.
func TestLongNamespace(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	ns := "urn:" + unrepeated(3000)
	refused(t, juliet, set("<storage xmlns='"+ns+"'/>"), "not-acceptable")
	refused(t, juliet, get("<storage xmlns='"+ns+"'/>"), "not-acceptable")
}

func TestRefused(t *testing.T) {
	s, juliet := start(t)
	exchange(t, juliet, set(notes), "")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")

	tests := []struct {
		name, send, condition string
	}{
		{"get of another account", "<iq type='get' id='q' to='juliet@localhost'>" + query("<storage xmlns='storage:rosternotes'/>") + "</iq>", "forbidden"},
		{"set of another account", "<iq type='set' id='q' to='juliet@localhost'>" + query(notes) + "</iq>", "forbidden"},
		{"unknown account", "<iq type='get' id='q' to='tybalt@localhost'>" + query("<storage xmlns='storage:rosternotes'/>") + "</iq>", "service-unavailable"},
		{"get without a child", get(""), "not-acceptable"},
		{"set without a child", set(), "not-acceptable"},
		{"jabber:client", set("<storage xmlns='jabber:client'/>"), "not-acceptable"},
		{"jabber:server", get("<storage xmlns='jabber:server'/>"), "not-acceptable"},
		{"jabber:iq:private itself", set("<storage/>"), "not-acceptable"},
		{"no namespace", set("<storage xmlns=''/>"), "not-acceptable"},
		{"get of two elements", get("<storage xmlns='storage:bookmarks'/><storage xmlns='storage:bookmarks'/>"), "bad-request"},
		{"set mixing namespaces", set(bookmarks, notes), "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused(t, romeo, tt.send, tt.condition)
		})
	}
	// Juliet's data is untouched.
	exchange(t, juliet, get("<storage xmlns='storage:rosternotes'/>"), query(notes))
}

func TestLimit(t *testing.T) {
	_, juliet := start(t)
	// What counts is the stored <query/> per namespace, summed over the account.
	text := func(ns string, n int) string {
		return "<x xmlns='" + ns + "'>" + strings.Repeat("a", n) + "</x>"
	}
	overhead := len(query(text("urn:a", 0)))
	exchange(t, juliet, set(text("urn:a", 600-overhead)), "")
	refused(t, juliet, set(text("urn:b", 500-overhead)), "not-acceptable")
	exchange(t, juliet, set(text("urn:b", maxBytes-600-overhead)), "")
	// Replacing counts only the new value.
	exchange(t, juliet, set(text("urn:a", 600-overhead)), "")
	refused(t, juliet, set(text("urn:a", 601-overhead)), "not-acceptable")
	// One namespace alone above the limit.
	refused(t, juliet, set(text("urn:c", maxBytes)), "not-acceptable")
	exchange(t, juliet, get("<x xmlns='urn:c'/>"), query("<x xmlns='urn:c'/>"))
	exchange(t, juliet, get("<x xmlns='urn:a'/>"), query(text("urn:a", 600-overhead)))
}
