package xmpptest

import (
	"slices"
	"strconv"
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

// ExpectOvertaken checks a flood's pause: ids are the messages a client
// received, n of a flood (prefix0, prefix1, ... in order) and other's,
// which must have overtaken the flood's last one.
func ExpectOvertaken(t testing.TB, ids []string, other, prefix string, n int) {
	t.Helper()
	at := slices.Index(ids, other)
	if at < 0 || at == n || len(ids) != n+1 {
		t.Fatalf("got %q: %s did not overtake the flood, which was not paused", ids, other)
	}
	flood := slices.Delete(slices.Clone(ids), at, at+1)
	for i, id := range flood {
		if id != prefix+strconv.Itoa(i) {
			t.Fatalf("the flood came as %q, want %s0 to %s%d in order", flood, prefix, prefix, n-1)
		}
	}
}
