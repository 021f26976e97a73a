package push

import (
	"testing"

	"xmppd/xmlstream"
)

// TestImportant: what wakes a device, also as a carbon copy of what the
// user received on another device (XEP-0280), which a detached session
// holds.
func TestImportant(t *testing.T) {
	for _, tc := range []struct {
		xml  string
		want bool
	}{
		{"<message xmlns='jabber:client' type='chat'><body>hi</body></message>", true},
		{"<message xmlns='jabber:client' type='groupchat'><body>hi all</body></message>", true},
		{"<message xmlns='jabber:client' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>", false},
		{"<message xmlns='jabber:client' type='error'><body>hi</body></message>", false},
		{"<message xmlns='jabber:client' from='alice@localhost' to='alice@localhost/tablet'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
			"<message xmlns='jabber:client' type='chat'><body>to the phone</body></message></forwarded></received></message>", true},
		{"<message xmlns='jabber:client' from='alice@localhost' to='alice@localhost/tablet'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
			"<message xmlns='jabber:client' type='chat'><received xmlns='urn:xmpp:receipts' id='x'/></message></forwarded></received></message>", false},
		// A carbon copy from anybody but the account itself is forged.
		{"<message xmlns='jabber:client' from='bob@localhost/desk' to='alice@localhost/tablet'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
			"<message xmlns='jabber:client' type='chat'><body>to the phone</body></message></forwarded></received></message>", false},
		{"<message xmlns='jabber:client' from='room@conference.localhost'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='bob@localhost'/></x></message>", true},
		{"<message xmlns='jabber:client' type='groupchat'><x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>", false},
		{"<presence xmlns='jabber:client'/>", false},
		// A room's subject change, also with a body, and a body with
		// nothing to show are not notified.
		{"<message xmlns='jabber:client' type='groupchat'><subject>plans</subject></message>", false},
		{"<message xmlns='jabber:client' type='groupchat'><subject>plans</subject><body>bob has set the subject to: plans</body></message>", false},
		{"<message xmlns='jabber:client' type='groupchat'><subject/><body>bob has cleared the subject</body></message>", false},
		{"<message xmlns='jabber:client' type='chat'><subject>re: plans</subject><body>sounds good</body></message>", true},
		{"<message xmlns='jabber:client' type='chat'><body/></message>", false},
		{"<message xmlns='jabber:client' type='chat'><body> \n\t </body></message>", false},
		{"<message xmlns='jabber:client' type='groupchat'><body></body></message>", false},
		{"<message xmlns='jabber:client' type='chat'><body/><body xml:lang='de'>hallo</body></message>", true},
		{"<message xmlns='jabber:client' type='chat'><body/><encrypted xmlns='eu.siacs.conversations.axolotl'><payload>AAAA</payload></encrypted></message>", true},
		{"<message xmlns='jabber:client' from='alice@localhost' to='alice@localhost/tablet'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>" +
			"<message xmlns='jabber:client' type='chat'><body>  </body></message></forwarded></received></message>", false},
	} {
		el, err := xmlstream.ParseElement([]byte(tc.xml), xmlstream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 16})
		if err != nil {
			t.Fatal(err)
		}
		if got := important(el); got != tc.want {
			t.Errorf("important(%s) = %v, want %v", tc.xml, got, tc.want)
		}
	}
}
