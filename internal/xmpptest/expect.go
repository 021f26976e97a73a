package xmpptest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"xmppd/xmlstream"
)

// ExpectError checks that el is an error stanza with the RFC 6120
// condition and returns its <error/>.
func ExpectError(t testing.TB, el *xmlstream.Element, condition string) *xmlstream.Element {
	t.Helper()
	e := el.Child("jabber:client", "error")
	if el.Attr("type") != "error" || e == nil || e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", condition) == nil {
		t.Fatalf("got %s, want a %s error", el, condition)
	}
	return e
}

// ExpectBody checks that el is a message from from whose body is body.
func ExpectBody(t testing.TB, el *xmlstream.Element, from, body string) {
	t.Helper()
	if el.Name.Local != "message" || el.Attr("from") != from || el.Child("jabber:client", "body").Text() != body {
		t.Fatalf("got %s, want a message from %s saying %q", el, from, body)
	}
}

// ExpectFloodPaused has from send, at once, n headlines of about 1,100
// bytes to the full JID of to, with ids prefix0, prefix1, ...; when to
// gets the one with id trigger, other sends it a headline too. The
// server must have paused reading the flood (a rate limit): other's
// headline overtakes the flood's last one, which comes in order.
func ExpectFloodPaused(t testing.TB, from, to, other *Client, prefix string, n int, trigger string) {
	t.Helper()
	var flood strings.Builder
	for i := range n {
		fmt.Fprintf(&flood, "<message to='%s' type='headline' id='%s%d'><body>%s</body></message>", to.JID, prefix, i, strings.Repeat("x", 1000))
	}
	from.Send(flood.String())
	var ids []string
	for len(ids) < n+1 {
		id := to.NextNamed("message").Attr("id")
		ids = append(ids, id)
		if id == trigger {
			other.Send("<message to='" + to.JID + "' type='headline' id='other'><body>meanwhile</body></message>")
		}
	}
	at := slices.Index(ids, "other")
	if at < 0 || at == n {
		t.Fatalf("got %q: the other message did not overtake the flood, which was not paused", ids)
	}
	rest := slices.Delete(slices.Clone(ids), at, at+1)
	for i, id := range rest {
		if id != prefix+strconv.Itoa(i) {
			t.Fatalf("the flood came as %q, want %s0 to %s%d in order", rest, prefix, prefix, n-1)
		}
	}
}
