package muc_test

import (
	"strings"
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

// roomDelays returns the stamps of the delays of el that say the room
// delayed it (XEP-0203, XEP-0091), as history has them.
func roomDelays(el *xmlstream.Element) []string {
	var stamps []string
	for _, c := range el.ChildElements() {
		if (c.Name.Space == "urn:xmpp:delay" && c.Name.Local == "delay") || (c.Name.Space == "jabber:x:delay" && c.Name.Local == "x") {
			if from, err := jid.Parse(c.Attr("from")); err == nil && from.Equal(jid.MustParse(room)) {
				stamps = append(stamps, c.Attr("stamp"))
			}
		}
	}
	return stamps
}

// XEP-0045 §7.2.15, XEP-0203: a delay an occupant writes in the room's
// name is removed, so that a live message does not pass for history and
// history keeps the room's stamp alone, not a backdated one.
func TestSpoofedDelayRemoved(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	romeo.Send("<message type='groupchat' to='" + room + "'><body>long ago</body>" +
		"<delay xmlns='urn:xmpp:delay' from='" + room + "' stamp='2001-01-01T00:00:00Z'/>" +
		"<x xmlns='jabber:x:delay' from='Verona@conference.localhost' stamp='20010101T00:00:00'/></message>")
	for _, el := range []*xmlstream.Element{juliet.NextNamed("message"), romeo.NextNamed("message")} {
		if d := roomDelays(el); len(d) != 0 {
			t.Fatalf("a live message has the room's delays %q: %s", d, el)
		}
	}
	hist := enter(t, nurse, room, "nurse", "", []string{"jul", "romeo"}, 1, "")
	if d := roomDelays(hist[0]); len(d) != 1 || strings.HasPrefix(d[0], "2001") {
		t.Fatalf("history has the room's delays %q, want the room's stamp alone: %s", d, hist[0])
	}
}
