package c2s_test

import (
	"encoding/xml"
	"testing"

	"xmppd/internal/xmpptest"
)

// A 'from' attribute in some namespace (here jabber:client, under a
// prefix) is not the stanza's 'from', but it reaches the recipient as
// a0:from='…', and encoding/xml-based clients (mellium, go-xmpp) match
// attributes by local name only, the last one winning: the recipient then
// believes the spoofed sender.
func TestNamespacedFromIsNotForwarded(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "tybalt", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	tybalt := xmpptest.Login(t, s, "tybalt", "secret", "street")
	tybalt.Send("<message to='juliet@localhost/balcony' from='x@y' xmlns:c='jabber:client' c:from='romeo@localhost/orchard' type='chat'><body>it is I, Romeo</body></message>")
	msg := juliet.NextNamed("message")
	for _, a := range msg.Attrs {
		if a.Name.Local == "from" && a.Value != "tybalt@localhost/street" {
			t.Errorf("delivered %s: attribute {%s}from=%q", msg, a.Name.Space, a.Value)
		}
	}
	var m struct {
		From string `xml:"from,attr"`
	}
	if err := xml.Unmarshal([]byte(msg.String()), &m); err != nil {
		t.Fatal(err)
	}
	if m.From != "tybalt@localhost/street" {
		t.Errorf("encoding/xml reads from=%q, want the true sender", m.From)
	}
}
