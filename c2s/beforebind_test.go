package c2s_test

import (
	"context"
	"testing"

	"xmppd/config"
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

// RFC 6120 §8.2.3: an IQ needs an id. Before binding, and before
// authentication (in-band registration), one without is bad-request and
// does nothing: no account, no resource.
func TestIQWithoutIDBeforeBind(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Registration.Enabled = true })
	c, _ := encrypted(t, s)
	c.Send("<iq type='set'><query xmlns='jabber:iq:register'><username>juliet</username><password>secret</password></query></iq>")
	if el := c.NextNamed("iq"); el.Child("jabber:iq:register", "query") != nil {
		t.Errorf("the error echoes the password: %s", el)
	} else {
		xmpptest.ExpectError(t, el, "bad-request")
	}
	if ok, err := s.Accounts.Exists(context.Background(), xmpptest.Domain, "juliet"); ok || err != nil {
		t.Fatalf("account made by an IQ without id: %v, %v", ok, err)
	}
	c.Send("<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>juliet</username><password>secret</password></query></iq>")
	if el := c.NextNamed("iq"); el.Attr("type") != "result" {
		t.Fatalf("registration: %s", el)
	}

	c = xmpptest.Dial(t, s.C2SAddr)
	c.Authenticated("juliet", "secret")
	c.Send("<iq type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>noid</resource></bind></iq>")
	xmpptest.ExpectError(t, c.NextNamed("iq"), "bad-request")
	if got := c.Bind("balcony"); got != "juliet@localhost/balcony" {
		t.Fatalf("bound %q", got)
	}
}
