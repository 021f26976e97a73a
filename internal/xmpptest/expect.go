package xmpptest

import (
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
