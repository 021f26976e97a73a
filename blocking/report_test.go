package blocking_test

import (
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

const nsReporting = "urn:xmpp:reporting:1"

// TestAbuseReport: the server announces reports (XEP-0377); juliet blocks
// romeo with a spam report and tybalt with a report without a reason.
// Both are blocked; the admin nurse gets the report on romeo, with its
// text and stanza id, and nothing on tybalt.
func TestAbuseReport(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Admins = []string{"nurse@localhost"} })
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	s.AddUser(t, "tybalt", xmpptest.OtherDomain, "secret")
	nurse := xmpptest.Login(t, s, "nurse", "secret", "desk")
	nurse.Online()
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")

	juliet.Send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if q := juliet.NextNamed("iq").String(); !strings.Contains(q, "var='"+nsReporting+"'") {
		t.Fatalf("disco#info does not announce %s: %s", nsReporting, q)
	}

	command(t, juliet, "<block xmlns='"+nsBlocking+"'>"+
		"<item jid='tybalt@example.test'><report xmlns='"+nsReporting+"'/></item>"+
		"<item jid='romeo@localhost'><report xmlns='"+nsReporting+"' reason='urn:xmpp:reporting:spam'>"+
		"<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@localhost' id='s-1'/><text xml:lang='en'>Buy cheap poison</text>"+
		"</report></item></block>")
	if got := blocklist(t, juliet); strings.Join(got, " ") != "romeo@localhost tybalt@example.test" {
		t.Fatalf("blocklist %q, want romeo and tybalt", got)
	}

	m := nurse.NextNamed("message")
	body := m.Child("jabber:client", "body").Text()
	r := m.Child(nsReporting, "report")
	if m.Attr("from") != "localhost" || !strings.Contains(body, "juliet@localhost blocked and reported romeo@localhost (spam): Buy cheap poison") ||
		r == nil || r.Attr("reason") != "urn:xmpp:reporting:spam" || r.Child("urn:xmpp:sid:0", "stanza-id").Attr("id") != "s-1" {
		t.Fatalf("nurse got %s, want juliet's report on romeo", m)
	}
	marker(t, juliet, nurse) // and no report on tybalt
}
