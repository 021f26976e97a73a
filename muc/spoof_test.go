package muc_test

import (
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// roomStanzaIDs returns the ids of the XEP-0359 stanza ids of el that a
// client takes for the room's: those whose 'by' is the room's JID once
// normalised.
func roomStanzaIDs(el *xmlstream.Element) []string {
	var ids []string
	for _, c := range el.ChildElements() {
		if c.Name.Space != "urn:xmpp:sid:0" || c.Name.Local != "stanza-id" {
			continue
		}
		if by, err := jid.Parse(c.Attr("by")); err == nil && by.Equal(jid.MustParse(room)) {
			ids = append(ids, c.Attr("id"))
		}
	}
	return ids
}

// XEP-0359 §5: a stanza id an occupant wrote in the room's name, with its
// JID spelled another way, is removed like one with the exact JID, so
// that the room's own id is the only one a client can take for it.
func TestSpoofedStanzaIDRemoved(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	romeo.Send("<message type='groupchat' to='" + room + "'><body>trust me</body>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' by='Verona@Conference.localhost' id='999'/></message>")
	for _, c := range []*xmlstream.Element{juliet.NextNamed("message"), romeo.NextNamed("message")} {
		if ids := roomStanzaIDs(c); len(ids) != 1 || ids[0] == "999" {
			t.Fatalf("got the room's stanza ids %q in %s, want one of the room's own", ids, c)
		}
	}
}
