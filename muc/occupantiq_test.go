package muc_test

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// threeInRoom has juliet create the room and romeo and nurse enter it.
func threeInRoom(t *testing.T, s *xmpptest.Server) (juliet, romeo, nurse *xmpptest.Client) {
	t.Helper()
	juliet, romeo, nurse = online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	createWithRomeo(t, juliet, romeo)
	nurseEnters(t, juliet, romeo, nurse)
	return juliet, romeo, nurse
}

// XEP-0045 §7.5 for IQs: an IQ to an occupant's room JID reaches the
// occupant's session from the sender's room JID, and the answer comes
// back from the occupant's room JID with the sender's id; a vCard request
// goes to the occupant's account; nobody else can answer in its place.
func TestIQToOccupant(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := threeInRoom(t, s)

	romeo.Send("<iq type='get' id='v1' to='" + room + "/jul'><query xmlns='jabber:iq:version'/></iq>")
	req := juliet.NextNamed("iq")
	if req.Attr("from") != room+"/romeo" || req.Attr("to") != juliet.JID || req.Attr("id") == "v1" ||
		req.Child("jabber:iq:version", "query") == nil {
		t.Fatalf("forwarded IQ: %s", req)
	}
	// An answer from someone else is dropped.
	nurse.Send("<iq type='result' id='" + req.Attr("id") + "' to='" + room + "/romeo'><query xmlns='jabber:iq:version'><name>fake</name></query></iq>")
	nurse.Ping()
	juliet.Send("<iq type='result' id='" + req.Attr("id") + "' to='" + room + "/romeo'><query xmlns='jabber:iq:version'><name>Balcony</name></query></iq>")
	res := expectIQ(t, romeo, "v1", "result")
	if res.Attr("from") != room+"/jul" || res.Child("jabber:iq:version", "query").Child("jabber:iq:version", "name").Text() != "Balcony" {
		t.Fatalf("answer: %s", res)
	}
	// An answer goes back once only.
	juliet.Send("<iq type='result' id='" + req.Attr("id") + "' to='" + room + "/romeo'/>")
	juliet.Ping()
	romeo.Ping()

	// Errors come back too.
	romeo.Send("<iq type='set' id='v2' to='" + room + "/jul'><query xmlns='urn:example:odd'/></iq>")
	req = juliet.NextNamed("iq")
	juliet.Send("<iq type='error' id='" + req.Attr("id") + "' to='" + room + "/romeo'><error type='cancel'>" +
		"<feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
	xmpptest.ExpectError(t, expectIQ(t, romeo, "v2", "error"), "feature-not-implemented")

	// vCards: juliet's account answers, she need not.
	juliet.Send("<iq type='set' id='vc'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard></iq>")
	expectIQ(t, juliet, "vc", "result")
	romeo.Send("<iq type='get' id='v3' to='" + room + "/jul'><vCard xmlns='vcard-temp'/></iq>")
	res = expectIQ(t, romeo, "v3", "result")
	if res.Attr("from") != room+"/jul" || res.Child("vcard-temp", "vCard").Child("vcard-temp", "FN").Text() != "Juliet Capulet" {
		t.Fatalf("vCard of an occupant: %s", res)
	}
	juliet.Ping() // she was not asked

	// Nobody there, and not an occupant.
	romeo.Send("<iq type='get' id='v4' to='" + room + "/nobody'><query xmlns='jabber:iq:version'/></iq>")
	xmpptest.ExpectError(t, expectIQ(t, romeo, "v4", "error"), "item-not-found")
	tybalt := online(t, s, "tybalt")
	tybalt.Send("<iq type='get' id='v5' to='" + room + "/jul'><query xmlns='jabber:iq:version'/></iq>")
	xmpptest.ExpectError(t, expectIQ(t, tybalt, "v5", "error"), "not-acceptable")
}

// XEP-0410: a ping to one's own room JID is answered by the room while
// one is joined, and is not-acceptable otherwise; a ping to another
// occupant is theirs to answer.
func TestSelfPing(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, _ := threeInRoom(t, s)
	ping := func(c *xmpptest.Client, id, to string) *xmlstream.Element {
		c.Send("<iq type='get' id='" + id + "' to='" + to + "'><ping xmlns='urn:xmpp:ping'/></iq>")
		return c.NextNamed("iq")
	}
	if res := ping(romeo, "p1", room+"/romeo"); res.Attr("type") != "result" || res.Attr("id") != "p1" || res.Attr("from") != room+"/romeo" {
		t.Fatalf("self-ping while joined: %s", res)
	}
	romeo.Send("<iq type='get' id='p2' to='" + room + "/jul'><ping xmlns='urn:xmpp:ping'/></iq>")
	req := juliet.NextNamed("iq")
	if req.Child("urn:xmpp:ping", "ping") == nil || req.Attr("from") != room+"/romeo" {
		t.Fatalf("ping forwarded to juliet: %s", req)
	}
	juliet.Send("<iq type='result' id='" + req.Attr("id") + "' to='" + room + "/romeo'/>")
	expectIQ(t, romeo, "p2", "result")

	romeo.Send("<presence type='unavailable' to='" + room + "/romeo'/>")
	expectPresence(t, romeo, room+"/romeo", "unavailable", "110")
	xmpptest.ExpectError(t, ping(romeo, "p3", room+"/romeo"), "not-acceptable")
	tybalt := online(t, s, "tybalt")
	xmpptest.ExpectError(t, ping(tybalt, "p4", room+"/tybalt"), "not-acceptable")

	expectPresence(t, juliet, room+"/romeo", "unavailable")
	juliet.Send("<iq type='get' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if q := expectIQ(t, juliet, "d", "result").Child("http://jabber.org/protocol/disco#info", "query"); !hasFeature(q, nsMUC+"#self-ping-optimization") {
		t.Fatalf("room info without self-ping: %s", q)
	}
}

// XEP-0045 §6.5: disco#items on a public room lists its occupants' room
// JIDs; a hidden room lists nothing.
func TestRoomItems(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, _, nurse := threeInRoom(t, s)
	tybalt := online(t, s, "tybalt")
	items := func() []string {
		tybalt.Send("<iq type='get' id='i' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
		var out []string
		for _, it := range expectIQ(t, tybalt, "i", "result").Child("http://jabber.org/protocol/disco#items", "query").ChildElements() {
			if it.Attr("jid") != room+"/"+it.Attr("name") {
				t.Fatalf("item %s", it)
			}
			out = append(out, it.Attr("name"))
		}
		return out
	}
	if got := items(); len(got) != 3 || got[0] != "jul" || got[1] != "nurse" || got[2] != "romeo" {
		t.Fatalf("occupants of a public room: %v", got)
	}
	configure(t, juliet, room, field("muc#roomconfig_publicroom", "0"))
	expectConfigNotice(t, nurse, room)
	if got := items(); len(got) != 0 {
		t.Fatalf("occupants of a hidden room: %v", got)
	}
}

// XEP-0054 on the room: anyone reads its vCard, only owners set it, and
// it stays with a persistent room across a restart.
func TestRoomVCard(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1"))
	get := func(c *xmpptest.Client) *xmlstream.Element {
		c.Send("<iq type='get' id='vg' to='" + room + "'><vCard xmlns='vcard-temp'/></iq>")
		return expectIQ(t, c, "vg", "result").Child("vcard-temp", "vCard")
	}
	if v := get(romeo); v == nil || len(v.ChildElements()) != 0 {
		t.Fatalf("no vCard yet: %s", v)
	}
	set := "<iq type='set' id='vs' to='" + room + "'><vCard xmlns='vcard-temp'><FN>Verona</FN><DESC>fair</DESC></vCard></iq>"
	romeo.Send(set)
	xmpptest.ExpectError(t, expectIQ(t, romeo, "vs", "error"), "forbidden")
	juliet.Send(set)
	expectConfigNotice(t, juliet, room) // XEP-0486 §3.2
	expectIQ(t, juliet, "vs", "result")
	if v := get(romeo); v.Child("vcard-temp", "FN").Text() != "Verona" {
		t.Fatalf("room vCard: %s", v)
	}
	s = xmpptest.Restart(t, s)
	romeo = online(t, s, "romeo")
	if v := get(romeo); v.Child("vcard-temp", "DESC").Text() != "fair" {
		t.Fatalf("room vCard after a restart: %s", v)
	}
}

// XEP-0045 §7.2.4: a member discovers the nick the room keeps for them;
// others get no identity.
func TestReservedNick(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, _, nurse := threeInRoom(t, s)
	ask := func(c *xmpptest.Client) *xmlstream.Element {
		c.Send("<iq type='get' id='rn' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/></iq>")
		return expectIQ(t, c, "rn", "result").Child("http://jabber.org/protocol/disco#info", "query")
	}
	if id := ask(juliet).Child("http://jabber.org/protocol/disco#info", "identity"); id == nil || id.Attr("name") != "jul" {
		t.Fatalf("juliet's reserved nick: %v", id)
	}
	if q := ask(nurse); len(q.ChildElements()) != 0 || q.Attr("node") != "x-roomuser-item" {
		t.Fatalf("nurse has no reserved nick: %s", q)
	}
}

// XEP-0486 §3.3: a room whose vCard has a photo tells its hash in the
// muc#roominfo form, so that clients find the room's avatar; a room
// without one has no such field.
func TestRoomAvatarHash(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet := online(t, s, "juliet")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1"))
	hashes := func() []string {
		juliet.Send("<iq type='get' id='di' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		q := expectIQ(t, juliet, "di", "result").Child("http://jabber.org/protocol/disco#info", "query")
		var got []string
		for _, f := range q.Child("jabber:x:data", "x").ChildElements() {
			if f.Attr("var") == "muc#roominfo_avatarhash" {
				for _, v := range f.ChildElements() {
					got = append(got, v.Text())
				}
			}
		}
		return got
	}
	if got := hashes(); len(got) != 0 {
		t.Fatalf("avatar hashes %v of a room without a vCard", got)
	}
	// sha1("a rose") and sha1("a thorn"), as XEP-0153 computes them.
	juliet.Send("<iq type='set' id='vs' to='" + room + "'><vCard xmlns='vcard-temp'>" +
		"<PHOTO><TYPE>image/png</TYPE><BINVAL>YSByb3Nl</BINVAL></PHOTO>" +
		"<PHOTO><TYPE>image/svg+xml</TYPE><BINVAL>YSB0aG9ybg==</BINVAL></PHOTO></vCard></iq>")
	expectConfigNotice(t, juliet, room)
	expectIQ(t, juliet, "vs", "result")
	if got := hashes(); len(got) != 2 || got[0] != sha1Hex("a rose") || got[1] != sha1Hex("a thorn") {
		t.Fatalf("avatar hashes %v, want those of the two photos", got)
	}
	s = xmpptest.Restart(t, s)
	juliet = online(t, s, "juliet")
	if got := hashes(); len(got) != 2 || got[0] != sha1Hex("a rose") {
		t.Fatalf("avatar hashes %v after a restart, want those of the two photos", got)
	}
	juliet.Send("<iq type='set' id='vs' to='" + room + "'><vCard xmlns='vcard-temp'><FN>Verona</FN></vCard></iq>")
	expectIQ(t, juliet, "vs", "result")
	if got := hashes(); len(got) != 0 {
		t.Fatalf("avatar hashes %v of a room whose vCard has no photo", got)
	}
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A room's vCard is bounded as an account's is (vcard.max_bytes): a
// larger one is refused with not-acceptable and the old one stays.
func TestRoomVCardTooLarge(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t, func(c *config.Config) { c.VCard.MaxBytes = 1024 })
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	juliet := online(t, s, "juliet")
	create(t, juliet, room, "jul")
	juliet.Send("<iq type='set' id='vs' to='" + room + "'><vCard xmlns='vcard-temp'><FN>Verona</FN></vCard></iq>")
	expectConfigNotice(t, juliet, room)
	expectIQ(t, juliet, "vs", "result")
	juliet.Send("<iq type='set' id='big' to='" + room + "'><vCard xmlns='vcard-temp'><DESC>" + strings.Repeat("x", 1024) + "</DESC></vCard></iq>")
	xmpptest.ExpectError(t, expectIQ(t, juliet, "big", "error"), "not-acceptable")
	juliet.Send("<iq type='get' id='vg' to='" + room + "'><vCard xmlns='vcard-temp'/></iq>")
	if v := expectIQ(t, juliet, "vg", "result").Child("vcard-temp", "vCard"); v.Child("vcard-temp", "FN").Text() != "Verona" || v.Child("vcard-temp", "DESC") != nil {
		t.Fatalf("room vCard %s after a refused set, want the old one", v)
	}
}
