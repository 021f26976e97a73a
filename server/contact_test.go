package server_test

import (
	"testing"

	"xmppd/config"
	"xmppd/dataform"
	"xmppd/internal/xmpptest"
)

// TestContactAddresses: the server's disco#info carries its contact
// addresses (XEP-0157), by purpose.
func TestContactAddresses(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) {
		c.Contact.Abuse = []string{"mailto:abuse@localhost", "xmpp:abuse@localhost"}
		c.Contact.Security = []string{"https://localhost/security"}
		c.Contact.OutageStatus = []string{"https://status.example/xmpp.json"}
	})
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Send("<iq type='get' id='i' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := juliet.NextNamed("iq").Child("http://jabber.org/protocol/disco#info", "query")
	form, ok := dataform.Find(q.ChildElements(), "http://jabber.org/network/serverinfo")
	if !ok {
		t.Fatalf("disco#info %s has no server info form", q)
	}
	abuse, _ := form.Field("abuse-addresses")
	security, _ := form.Field("security-addresses")
	if form.Type != "result" || len(abuse.Values) != 2 || abuse.Values[1] != "xmpp:abuse@localhost" ||
		len(security.Values) != 1 || len(form.Fields) != 3 {
		t.Fatalf("server info %+v", form)
	}
	sos, ok := dataform.Find(q.ChildElements(), "urn:xmpp:sos:0")
	if status, _ := sos.Field("external-status-addresses"); !ok || len(status.Values) != 1 || status.Values[0] != "https://status.example/xmpp.json" {
		t.Fatalf("outage status form (XEP-0455) %+v in %s", sos, q)
	}
}
