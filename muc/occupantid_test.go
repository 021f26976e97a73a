package muc_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const nsOccupantID = "urn:xmpp:occupant-id:0"

// occupantID returns the one occupant id of el, failing the test if el
// has none or several.
func occupantID(t *testing.T, el *xmlstream.Element) string {
	t.Helper()
	var ids []string
	for _, c := range el.ChildElements() {
		if c.Name.Space == nsOccupantID && c.Name.Local == "occupant-id" {
			ids = append(ids, c.Attr("id"))
		}
	}
	if len(ids) != 1 || ids[0] == "" {
		t.Fatalf("got occupant ids %q in %s, want one", ids, el)
	}
	return ids[0]
}

// XEP-0421: presence and messages from an occupant carry an occupant id
// that is the same for the user whenever they join, differs between users
// and rooms, hides the JID, and cannot be forged by the client.
func TestOccupantIDs(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	juliet.Send("<iq type='get' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if q := expectIQ(t, juliet, "d", "result").Child("http://jabber.org/protocol/disco#info", "query"); !hasFeature(q, nsOccupantID) {
		t.Fatalf("room info without %s: %s", nsOccupantID, q)
	}

	forged := "<occupant-id xmlns='" + nsOccupantID + "' id='forged'/>"
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/>" + forged + "</presence>")
	julID := occupantID(t, romeo.ExpectPresenceFrom(room+"/jul"))
	romeoID := occupantID(t, expectPresence(t, romeo, room+"/romeo", "", "110", "170"))
	expectSubject(t, romeo, "")
	if got := occupantID(t, expectPresence(t, juliet, room+"/romeo", "")); got != romeoID {
		t.Fatalf("romeo's occupant id is %s to juliet and %s to himself", got, romeoID)
	}
	if julID == romeoID || strings.Contains(romeoID, "romeo") || romeoID == "forged" {
		t.Fatalf("occupant ids juliet %s, romeo %s", julID, romeoID)
	}

	romeo.Send("<message type='groupchat' to='" + room + "'><body>hi</body>" + forged + "</message>")
	for _, c := range []*xmpptest.Client{juliet, romeo} {
		if got := occupantID(t, c.NextNamed("message")); got != romeoID {
			t.Fatalf("%s: groupchat occupant id %s, want %s", c.JID, got, romeoID)
		}
	}
	romeo.Send("<message type='chat' to='" + room + "/jul'><body>psst</body>" + forged + "</message>")
	if got := occupantID(t, juliet.NextNamed("message")); got != romeoID {
		t.Fatalf("private message occupant id %s, want %s", got, romeoID)
	}

	// Leaving and coming back under another nick: the same id.
	romeo.Send("<presence type='unavailable' to='" + room + "/romeo'/>")
	if got := occupantID(t, expectPresence(t, romeo, room+"/romeo", "unavailable", "110")); got != romeoID {
		t.Fatalf("unavailable presence occupant id %s, want %s", got, romeoID)
	}
	expectPresence(t, juliet, room+"/romeo", "unavailable")
	romeo.Send("<presence to='" + room + "/montague'><x xmlns='" + nsMUC + "'><history maxstanzas='0'/></x></presence>")
	romeo.ExpectPresenceFrom(room + "/jul")
	if got := occupantID(t, expectPresence(t, romeo, room+"/montague", "", "110", "170")); got != romeoID {
		t.Fatalf("occupant id after rejoining %s, want %s", got, romeoID)
	}
	expectSubject(t, romeo, "")
	if got := occupantID(t, expectPresence(t, juliet, room+"/montague", "")); got != romeoID {
		t.Fatalf("occupant id after rejoining %s, want %s", got, romeoID)
	}

	// Another room gives romeo another id.
	other := "capulet@" + service
	romeo.Send("<presence to='" + other + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	if got := occupantID(t, expectPresence(t, romeo, other+"/romeo", "", "110", "170", "201")); got == romeoID {
		t.Fatal("romeo has the same occupant id in two rooms")
	}
}

// The subject sent on entering, from the occupant who set it, carries
// that occupant's id, as every message a room sends does (XEP-0421 §5,
// "Business Rules").
func TestSubjectOnEnteringHasOccupantID(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	juliet.Send("<message type='groupchat' to='" + room + "'><subject>feud</subject></message>")
	julietID := occupantID(t, juliet.NextNamed("message"))
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	romeo.ExpectPresenceFrom(room + "/jul")
	expectPresence(t, romeo, room+"/romeo", "", "110", "170")
	el := romeo.NextNamed("message")
	if el.Attr("from") != room+"/jul" || el.Child("jabber:client", "subject") == nil {
		t.Fatalf("got %s, want the subject from jul", el)
	}
	if got := occupantID(t, el); got != julietID {
		t.Errorf("subject's occupant id %q, want juliet's %q", got, julietID)
	}
}

// The subject's occupant id is stored with the room: after a restart the
// subject sent on entering still carries the id of the occupant who set
// it (XEP-0421 §5), not only after the next change.
func TestSubjectOccupantIDSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet := online(t, s, "juliet")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1"))
	juliet.Send("<message type='groupchat' to='" + room + "'><subject>feud</subject></message>")
	julietID := occupantID(t, juliet.NextNamed("message"))

	s = xmpptest.Restart(t, s)
	romeo := online(t, s, "romeo")
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	expectPresence(t, romeo, room+"/romeo", "", "110", "170")
	el := romeo.NextNamed("message")
	if el.Attr("from") != room+"/jul" || el.Child("jabber:client", "subject") == nil {
		t.Fatalf("got %s, want the subject from jul", el)
	}
	if got := occupantID(t, el); got != julietID {
		t.Errorf("subject's occupant id after a restart %q, want juliet's %q", got, julietID)
	}
}
