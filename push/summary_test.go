package push

import (
	"testing"

	"xmppd/xmlstream"
)

// TestSummaryOfCarbonCopy: the summary of a carbon copy of a message the
// user received on another device (which a waiting session holds) names
// the copied message's sender and body, not the user's own account, and
// of a message with several bodies the one with text.
func TestSummaryOfCarbonCopy(t *testing.T) {
	m := &Module{cfg: Config{IncludeSender: true, IncludeBody: true}}
	for _, tc := range []struct{ xml, sender, body string }{
		{"<message xmlns='jabber:client' from='alice@localhost' to='alice@localhost/tablet'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
			"<message xmlns='jabber:client' type='chat' from='bob@localhost/desk' to='alice@localhost/phone'><body>to the phone</body></message></forwarded></received></message>",
			"bob@localhost/desk", "to the phone"},
		// A carbon copy that another user forged is not believed.
		{"<message xmlns='jabber:client' from='bob@localhost/desk' to='alice@localhost/tablet'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
			"<message xmlns='jabber:client' type='chat' from='bank@example.net' to='alice@localhost/phone'><body>your password, please</body></message></forwarded></received></message>",
			"bob@localhost/desk", ""},
		{"<message xmlns='jabber:client' type='chat' from='bob@localhost/desk'><body/><body xml:lang='de'>hallo</body></message>",
			"bob@localhost/desk", "hallo"},
	} {
		st, err := xmlstream.ParseElement([]byte(tc.xml), xmlstream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 16})
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]string{}
		ps := m.publish(Registration{Service: "app@localhost", Node: "n1"}, st, 1)
		x := ps.Child(nsPubSub, "publish").Child(nsPubSub, "item").Child(NS, "notification").Child("jabber:x:data", "x")
		for _, f := range x.ChildElements() {
			fields[f.Attr("var")] = f.Child("jabber:x:data", "value").Text()
		}
		if fields["last-message-sender"] != tc.sender || fields["last-message-body"] != tc.body {
			t.Errorf("summary of %s: %v; want sender %s and body %q", tc.xml, fields, tc.sender, tc.body)
		}
	}
}
