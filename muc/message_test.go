package muc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// stanzaID returns the room's stanza id on a groupchat message.
func stanzaID(t *testing.T, el *xmlstream.Element) string {
	t.Helper()
	for _, c := range el.ChildElements() {
		if c.Name.Space == "urn:xmpp:sid:0" && c.Name.Local == "stanza-id" && c.Attr("by") == room && c.Attr("id") != "" {
			return c.Attr("id")
		}
	}
	t.Fatalf("no stanza-id by the room: %s", el)
	return ""
}

// TestAllowPM limits who may send private messages in the room
// (muc#roomconfig_allowpm), and the room's disco#info tells clients.
func TestAllowPM(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	allowPM := func() string {
		t.Helper()
		res := romeo.Result("get", room, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
		for _, f := range res.Child("http://jabber.org/protocol/disco#info", "query").Child("jabber:x:data", "x").ChildElements() {
			if f.Attr("var") == "muc#roomconfig_allowpm" {
				return f.Child("jabber:x:data", "value").Text()
			}
		}
		t.Fatalf("disco#info %s without muc#roomconfig_allowpm", res)
		return ""
	}
	pm := func(from *xmpptest.Client, to *xmpptest.Client, nick string) *xmlstream.Element {
		t.Helper()
		from.Send("<message type='chat' to='" + room + "/" + nick + "' id='pm'><body>psst</body></message>")
		if to == nil {
			return from.NextNamed("message")
		}
		return to.NextNamed("message")
	}
	if v := allowPM(); v != "anyone" {
		t.Fatalf("allowpm %q by default, want anyone", v)
	}
	xmpptest.ExpectBody(t, pm(romeo, juliet, "jul"), room+"/romeo", "psst")

	configure(t, juliet, room, field("muc#roomconfig_allowpm", "moderators"))
	expectConfigNotice(t, romeo, room)
	if v := allowPM(); v != "moderators" {
		t.Fatalf("allowpm %q, want moderators", v)
	}
	xmpptest.ExpectError(t, pm(romeo, nil, "jul"), "not-allowed")
	xmpptest.ExpectBody(t, pm(juliet, romeo, "romeo"), room+"/jul", "psst")

	configure(t, juliet, room, field("muc#roomconfig_allowpm", "none"))
	expectConfigNotice(t, romeo, room)
	xmpptest.ExpectError(t, pm(juliet, nil, "romeo"), "not-allowed")

	submit(juliet, room, field("muc#roomconfig_allowpm", "everybody"))
	expectIQ(t, juliet, "cfg", "error")
	if v := allowPM(); v != "none" {
		t.Fatalf("allowpm %q after a refused change, want none", v)
	}
}

// XEP-0045 §7.4, §7.5, §8.1, §7.2.14: groupchat goes to every occupant
// with the room's stanza id; non-occupants are refused; private messages
// reach one occupant; the subject is for moderators and comes last on
// entering, after the history <history/> asks for.
func TestGroupchat(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse"), online(t, s, "tybalt")
	createWithRomeo(t, juliet, romeo)
	nurseEnters(t, juliet, romeo, nurse)
	all := []*xmpptest.Client{juliet, romeo, nurse}

	for i := range 3 {
		body := fmt.Sprint("line ", i)
		romeo.Send("<message type='groupchat' to='" + room + "' id='g" + fmt.Sprint(i) + "'><body>" + body + "</body>" +
			"<stanza-id xmlns='urn:xmpp:sid:0' by='" + room + "' id='forged'/></message>")
		id := ""
		for _, c := range all {
			el := c.NextNamed("message")
			xmpptest.ExpectBody(t, el, room+"/romeo", body)
			got := stanzaID(t, el)
			if got == "forged" || (id != "" && got != id) {
				t.Fatalf("%s: stanza id %s, others got %s", c.JID, got, id)
			}
			id = got
		}
	}

	// Not an occupant: refused.
	tybalt.Send("<message type='groupchat' to='" + room + "' id='x'><body>draw!</body></message>")
	xmpptest.ExpectError(t, tybalt.NextNamed("message"), "not-acceptable")
	tybalt.Send("<message type='chat' to='" + room + "/jul' id='x2'><body>psst</body></message>")
	xmpptest.ExpectError(t, tybalt.NextNamed("message"), "not-acceptable")

	// Private messages, to an occupant and to nobody.
	romeo.Send("<message type='chat' to='" + room + "/jul' id='pm'><body>by yonder moon</body></message>")
	el := juliet.NextNamed("message")
	xmpptest.ExpectBody(t, el, room+"/romeo", "by yonder moon")
	if el.Child(nsUser, "x") == nil || el.Attr("to") != "juliet@localhost/r" {
		t.Fatalf("private message: %s", el)
	}
	romeo.Send("<message type='chat' to='" + room + "/nobody' id='pm2'><body>?</body></message>")
	xmpptest.ExpectError(t, romeo.NextNamed("message"), "item-not-found")

	// The subject: not for participants by default; the owner sets it.
	nurse.Send("<message type='groupchat' to='" + room + "'><subject>gossip</subject></message>")
	xmpptest.ExpectError(t, nurse.NextNamed("message"), "forbidden")
	juliet.Send("<message type='groupchat' to='" + room + "'><subject>The balcony</subject></message>")
	for _, c := range all {
		el := c.NextNamed("message")
		if el.Attr("from") != room+"/jul" || el.Child("jabber:client", "subject").Text() != "The balcony" {
			t.Fatalf("%s: subject change: %s", c.JID, el)
		}
	}

	// History: the last two messages, delayed, then the subject.
	mercutio := online(t, s, "mercutio")
	hist := enter(t, mercutio, room, "mercutio", "<history maxstanzas='2'/>", []string{"jul", "romeo", "nurse"}, 2, "The balcony")
	for i, el := range hist {
		xmpptest.ExpectBody(t, el, room+"/romeo", fmt.Sprint("line ", i+1))
		if d := el.Child("urn:xmpp:delay", "delay"); d == nil || d.Attr("from") != room || d.Attr("stamp") == "" {
			t.Fatalf("history without delay: %s", el)
		}
		stanzaID(t, el)
	}
	// maxchars='0' asks for none.
	for _, c := range all {
		expectPresence(t, c, room+"/mercutio", "")
	}
	mercutio.Send("<presence type='unavailable' to='" + room + "/mercutio'/>")
	expectPresence(t, mercutio, room+"/mercutio", "unavailable", "110")
	for _, c := range all {
		expectPresence(t, c, room+"/mercutio", "unavailable")
	}
	enter(t, mercutio, room, "mercutio", "<history maxchars='0'/>", []string{"jul", "romeo", "nurse"}, 0, "The balcony")
	for _, c := range all {
		expectPresence(t, c, room+"/mercutio", "")
	}

	// The room archive (XEP-0313): everything, with the same ids.
	romeo.Send("<iq type='set' id='q' to='" + room + "'><query xmlns='urn:xmpp:mam:2' queryid='a'/></iq>")
	for i := range 3 {
		el := romeo.NextNamed("message")
		fwd := el.Child("urn:xmpp:mam:2", "result").Child("urn:xmpp:forward:0", "forwarded")
		xmpptest.ExpectBody(t, fwd.Child("jabber:client", "message"), room+"/romeo", fmt.Sprint("line ", i))
	}
	fin := expectIQ(t, romeo, "q", "result").Child("urn:xmpp:mam:2", "fin")
	if fin.Attr("complete") != "true" {
		t.Fatalf("archive query: %s", fin)
	}
}

// XEP-0045 §8.2, §9.1: a moderator kicks (307), an admin bans (301), a
// participant may do neither, and the banned stay out.
func TestKickAndBan(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "tybalt")
	createWithRomeo(t, juliet, romeo)
	enterTybalt := func() {
		enter(t, tybalt, room, "tybalt", "", []string{"jul", "romeo"}, 0, "")
		expectPresence(t, juliet, room+"/tybalt", "")
		expectPresence(t, romeo, room+"/tybalt", "")
	}
	enterTybalt()

	admin := func(c *xmpptest.Client, id, item string) *xmlstream.Element {
		c.Send("<iq type='set' id='" + id + "' to='" + room + "'><query xmlns='" + nsMUC + "#admin'>" + item + "</query></iq>")
		return c.NextNamed("iq")
	}
	xmpptest.ExpectError(t, admin(romeo, "k0", "<item nick='tybalt' role='none'/>"), "forbidden")
	xmpptest.ExpectError(t, admin(juliet, "k1", "<item nick='nobody' role='none'/>"), "item-not-found")

	// The room removes the kicked occupant, answers the moderator, then
	// tells the others (§8.2).
	juliet.Send("<iq type='set' id='k2' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item nick='tybalt' role='none'><reason>brawling</reason></item></query></iq>")
	expectIQ(t, juliet, "k2", "result")
	expectPresence(t, juliet, room+"/tybalt", "unavailable", "307")
	expectPresence(t, tybalt, room+"/tybalt", "unavailable", "110", "307")
	expectPresence(t, romeo, room+"/tybalt", "unavailable", "307")

	enterTybalt()
	xmpptest.ExpectError(t, admin(romeo, "b0", "<item jid='tybalt@localhost' affiliation='outcast'/>"), "forbidden")
	juliet.Send("<iq type='set' id='b1' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='tybalt@localhost' affiliation='outcast'/></query></iq>")
	expectIQ(t, juliet, "b1", "result")
	expectPresence(t, juliet, room+"/tybalt", "unavailable", "301")
	expectPresence(t, tybalt, room+"/tybalt", "unavailable", "110", "301")
	expectPresence(t, romeo, room+"/tybalt", "unavailable", "301")
	tybalt.Send("<presence to='" + room + "/tybalt'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, tybalt.ExpectPresenceFrom(room+"/tybalt"), "forbidden")

	juliet.Send("<iq type='get' id='l' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item affiliation='outcast'/></query></iq>")
	items := expectIQ(t, juliet, "l", "result").Child(nsMUC+"#admin", "query").ChildElements()
	if len(items) != 1 || items[0].Attr("jid") != "tybalt@localhost" {
		t.Fatalf("outcast list: %v", items)
	}
	// The last owner stays.
	xmpptest.ExpectError(t, admin(juliet, "o", "<item jid='juliet@localhost' affiliation='member'/>"), "conflict")

	// A whole domain is banned or made members, not given the room.
	xmpptest.ExpectError(t, admin(juliet, "d0", "<item jid='localhost' affiliation='admin'/>"), "not-acceptable")
	// A whole domain can be banned (§9.1): its users without an
	// affiliation of their own leave, and cannot enter.
	juliet.Send("<iq type='set' id='d1' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='localhost' affiliation='outcast'/></query></iq>")
	expectIQ(t, juliet, "d1", "result")
	expectPresence(t, juliet, room+"/romeo", "unavailable", "301")
	expectPresence(t, romeo, room+"/romeo", "unavailable", "110", "301")
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, romeo.ExpectPresenceFrom(room+"/romeo"), "forbidden")
	// A user's own affiliation comes first.
	juliet.Send("<iq type='set' id='d2' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='romeo@localhost' affiliation='member'/></query></iq>")
	expectIQ(t, juliet, "d2", "result")
	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "")
}

// XEP-0045 §7.2.6, §7.2.5, §7.2.9: members-only rooms want
// registration, password rooms the password; moderated rooms give
// visitors no voice.
func TestEntryRules(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_membersonly", "1"))
	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, romeo.ExpectPresenceFrom(room+"/romeo"), "registration-required")
	juliet.Send("<iq type='set' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='romeo@localhost' affiliation='member'/></query></iq>")
	expectIQ(t, juliet, "m", "result")
	expectInvitation(t, romeo.NextNamed("message"), "juliet@localhost", "", "") // §9.5
	enter(t, romeo, room, "romeo", "", []string{"jul"}, 0, "")
	expectPresence(t, juliet, room+"/romeo", "")

	secret := "capulet@" + service
	create(t, juliet, secret, "jul")
	configure(t, juliet, secret, field("muc#roomconfig_passwordprotectedroom", "1")+field("muc#roomconfig_roomsecret", "nightingale")+
		field("muc#roomconfig_moderatedroom", "1"))
	for _, pw := range []string{"", "<password>lark</password>"} {
		nurse.Send("<presence to='" + secret + "/nurse'><x xmlns='" + nsMUC + "'>" + pw + "</x></presence>")
		xmpptest.ExpectError(t, nurse.ExpectPresenceFrom(secret+"/nurse"), "not-authorized")
	}
	nurse.Send("<presence to='" + secret + "/nurse'><x xmlns='" + nsMUC + "'><password>nightingale</password></x></presence>")
	nurse.ExpectPresenceFrom(secret + "/jul")
	if it := item(t, expectPresence(t, nurse, secret+"/nurse", "", "110", "170")); it.Attr("role") != "visitor" {
		t.Fatalf("in a moderated room, nurse should be a visitor: %s", it)
	}
	expectSubject(t, nurse, "")
	expectPresence(t, juliet, secret+"/nurse", "")
	nurse.Send("<message type='groupchat' to='" + secret + "'><body>hello</body></message>")
	xmpptest.ExpectError(t, nurse.NextNamed("message"), "forbidden")
}

// A persistent room keeps its configuration, affiliations, subject and
// history across a restart.
func TestPersistentRoomSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet := online(t, s, "juliet")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_persistentroom", "1")+field("muc#roomconfig_roomname", "Verona"))
	juliet.Send("<message type='groupchat' to='" + room + "'><subject>Act II</subject></message>")
	juliet.NextNamed("message")
	juliet.Send("<message type='groupchat' to='" + room + "'><body>kept</body></message>")
	juliet.NextNamed("message")
	// Leaving does not end a persistent room; a temporary one ends.
	create(t, juliet, "gone@"+service, "jul")
	for _, r := range []string{room, "gone@" + service} {
		juliet.Send("<presence type='unavailable' to='" + r + "/jul'/>")
		expectPresence(t, juliet, r+"/jul", "unavailable", "110")
	}

	s = xmpptest.Restart(t, s)
	romeo := online(t, s, "romeo")
	romeo.Send("<iq type='get' id='i' to='" + service + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	items := expectIQ(t, romeo, "i", "result").Child("http://jabber.org/protocol/disco#items", "query").ChildElements()
	if len(items) != 1 || items[0].Attr("jid") != room || items[0].Attr("name") != "Verona" {
		t.Fatalf("rooms after a restart: %v", items)
	}
	hist := enter(t, romeo, room, "romeo", "", nil, 1, "Act II")
	xmpptest.ExpectBody(t, hist[0], room+"/jul", "kept")
	juliet = online(t, s, "juliet")
	juliet.Send("<presence to='" + room + "/jul'><x xmlns='" + nsMUC + "'/></presence>")
	juliet.ExpectPresenceFrom(room + "/romeo")
	el := expectPresence(t, juliet, room+"/jul", "", "110", "170")
	if it := item(t, el); it.Attr("affiliation") != "owner" {
		t.Fatalf("juliet's affiliation after a restart: %s", it)
	}
	// Her occupant id (XEP-0421) is the one her archived message has.
	if got, want := occupantID(t, el), occupantID(t, hist[0]); got != want {
		t.Fatalf("juliet's occupant id after a restart is %s, before it %s", got, want)
	}
}

// Owners set how much history a newcomer gets (muc#maxhistoryfetch) and
// can turn the room's archive off (muc#roomconfig_enablearchiving): the
// messages then have no stanza id and are not in the archive, history on
// join still works, and the room stops announcing the archive.
func TestHistoryLengthAndArchiving(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#maxhistoryfetch", "1"))
	say := func(body string) {
		juliet.Send("<message type='groupchat' to='" + room + "'><body>" + body + "</body></message>")
		el := juliet.NextNamed("message")
		xmpptest.ExpectBody(t, el, room+"/jul", body)
	}
	say("m1")
	say("m2")
	hist := enter(t, romeo, room, "romeo", "", []string{"jul"}, 1, "")
	xmpptest.ExpectBody(t, hist[0], room+"/jul", "m2")
	expectPresence(t, juliet, room+"/romeo", "")

	configure(t, juliet, room, field("muc#roomconfig_enablearchiving", "0"), "171")
	expectConfigNotice(t, romeo, room, "171")
	juliet.Send("<message type='groupchat' to='" + room + "'><body>off the record</body></message>")
	for _, c := range []*xmpptest.Client{juliet, romeo} {
		el := c.NextNamed("message")
		xmpptest.ExpectBody(t, el, room+"/jul", "off the record")
		if el.Child("urn:xmpp:sid:0", "stanza-id") != nil {
			t.Fatalf("%s: an unarchived message has a stanza id: %s", c.JID, el)
		}
	}
	// The newcomer's own presence lacks 170, and the history comes from memory.
	nurse.Send("<presence to='" + room + "/nurse'><x xmlns='" + nsMUC + "'/></presence>")
	for range 2 {
		nurse.NextNamed("presence")
	}
	expectPresence(t, nurse, room+"/nurse", "", "110")
	el := nurse.NextNamed("message")
	xmpptest.ExpectBody(t, el, room+"/jul", "off the record")
	if el.Child("urn:xmpp:delay", "delay") == nil {
		t.Fatalf("history without delay: %s", el)
	}
	expectSubject(t, nurse, "")
	for _, c := range []*xmpptest.Client{juliet, romeo} {
		expectPresence(t, c, room+"/nurse", "")
	}

	romeo.Send("<iq type='get' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if q := expectIQ(t, romeo, "d", "result").Child("http://jabber.org/protocol/disco#info", "query"); hasFeature(q, "urn:xmpp:mam:2") {
		t.Fatal("an unarchived room announces its archive")
	}
	// The archive holds what was said before, not after.
	romeo.Send("<iq type='set' id='q' to='" + room + "'><query xmlns='urn:xmpp:mam:2' queryid='a'/></iq>")
	var got []string
	for {
		el := romeo.Next()
		if el.Name.Local == "iq" {
			break
		}
		fwd := el.Child("urn:xmpp:mam:2", "result").Child("urn:xmpp:forward:0", "forwarded")
		got = append(got, fwd.Child("jabber:client", "message").Child("jabber:client", "body").Text())
	}
	if strings.Join(got, ",") != "m1,m2" {
		t.Fatalf("archive after archiving was turned off: %v", got)
	}

	// Out-of-range values are refused.
	submit(juliet, room, field("muc#maxhistoryfetch", "-3"))
	xmpptest.ExpectError(t, expectIQ(t, juliet, "cfg", "error"), "not-acceptable")
}

// XEP-0045 §7.2.14: the history a newcomer asks for by time, with since
// and seconds (maxstanzas and maxchars are in TestGroupchat).
func TestHistoryParameters(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, nurse := online(t, s, "juliet"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	for _, b := range []string{"one", "two", "three"} {
		juliet.Send("<message type='groupchat' to='" + room + "'><body>" + b + "</body></message>")
		juliet.NextNamed("message")
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		history string
		want    int
	}{
		{"<history since='" + past + "'/>", 3},
		{"<history since='" + future + "'/>", 0},
		{"<history seconds='3600'/>", 3},
		{"<history seconds='3600' maxstanzas='2'/>", 2},
		{"<history since='" + past + "' maxstanzas='1'/>", 1},
		// A huge N (a client meaning "everything") must not wrap around
		// into a start in the future.
		{"<history seconds='10000000000'/>", 3},
		{"<history seconds='9223372036854775807'/>", 3},
	} {
		hist := enter(t, nurse, room, "nurse", tc.history, []string{"jul"}, tc.want, "")
		if tc.want > 0 {
			xmpptest.ExpectBody(t, hist[len(hist)-1], room+"/jul", "three")
		}
		expectPresence(t, juliet, room+"/nurse", "")
		nurse.Send("<presence type='unavailable' to='" + room + "/nurse'/>")
		expectPresence(t, nurse, room+"/nurse", "unavailable", "110")
		expectPresence(t, juliet, room+"/nurse", "unavailable")
	}
}
