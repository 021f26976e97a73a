package c2s_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// RFC 6120 §7.1: before binding a resource, a stanza to an entity other
// than the server or the client's own account is not processed and ends
// the stream with <not-authorized/>; an IQ to the server or the account
// gets a stanza error and the stream goes on.
func TestIQBeforeBind(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")

	c := xmpptest.Dial(t, s.C2SAddr)
	c.Authenticated("juliet", "secret")
	for _, to := range []string{"", "localhost", "juliet@localhost", "JULIET@localhost"} {
		c.Send("<iq type='get' id='own' to='" + to + "'><ping xmlns='urn:xmpp:ping'/></iq>")
		if el := c.NextNamed("iq"); el.Attr("type") != "error" {
			t.Fatalf("IQ to %q before binding: got %s, want an error", to, el)
		}
	}
	c.Send("<iq type='get' id='other' to='romeo@localhost/orchard'><ping xmlns='urn:xmpp:ping'/></iq>")
	c.ExpectStreamError("not-authorized")
	romeo.Ping()
}
