package mam_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsMAM = "urn:xmpp:mam:2"
	nsSID = "urn:xmpp:sid:0"
)

// form returns a MAM query form with the given var, value pairs.
func form(kv ...string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>")
	for i := 0; i < len(kv); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", kv[i], kv[i+1])
	}
	return b.String() + "</x>"
}

// query sends an archive query with payload inside <query/> and returns
// the forwarded messages and the IQ answer.
func query(c *xmpptest.Client, to, payload string) (results []*xmlstream.Element, answer *xmlstream.Element) {
	c.T.Helper()
	if to != "" {
		to = " to='" + to + "'"
	}
	c.Send("<iq type='set' id='q1'" + to + "><query xmlns='urn:xmpp:mam:2' queryid='qid'>" + payload + "</query></iq>")
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Attr("id") == "q1" {
			return results, el
		}
		res := el.Child(nsMAM, "result")
		if el.Name.Local != "message" || res == nil || res.Attr("queryid") != "qid" || el.Attr("to") != c.JID {
			c.T.Fatalf("%s: got %s, want a query result", c.JID, el)
		}
		results = append(results, res.Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message"))
	}
}

func bodies(msgs []*xmlstream.Element) string {
	var bs []string
	for _, m := range msgs {
		if b := m.Child("jabber:client", "body"); b != nil {
			bs = append(bs, b.Text())
		} else {
			bs = append(bs, "-")
		}
	}
	return strings.Join(bs, ",")
}

func fin(t *testing.T, iq *xmlstream.Element) *xmlstream.Element {
	t.Helper()
	f := iq.Child(nsMAM, "fin")
	if iq.Attr("type") != "result" || f == nil {
		t.Fatalf("got %s, want a result with <fin/>", iq)
	}
	return f
}

func TestConversation(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t, func(c *config.Config) { c.Archive.MaxPage = 3 })
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	balcony := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	balcony.Online()
	chamber := xmpptest.Login(t, s, "juliet", "pw", "chamber")
	chamber.Online()
	balcony.ExpectPresenceFrom(chamber.JID)
	chamber.ExpectPresenceFrom(balcony.JID)
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()

	// A spoofed stanza-id by juliet's account is stripped; the server's is added.
	romeo.Send("<message type='chat' to='juliet@localhost' id='m1'><body>hello</body>" +
		"<origin-id xmlns='urn:xmpp:sid:0' id='o1'/><stanza-id xmlns='urn:xmpp:sid:0' by='juliet@localhost' id='forged'/></message>")
	var sid string
	for _, c := range []*xmpptest.Client{balcony, chamber} {
		el := c.NextNamed("message")
		xmpptest.ExpectBody(t, el, romeo.JID, "hello")
		var ids []string
		for _, ch := range el.ChildElements() {
			if ch.Name.Space == nsSID && ch.Name.Local == "stanza-id" {
				ids = append(ids, ch.Attr("by")+"/"+ch.Attr("id"))
			}
		}
		if len(ids) != 1 || !strings.HasPrefix(ids[0], "juliet@localhost/") || ids[0] == "juliet@localhost/forged" {
			t.Fatalf("stanza ids %v, want one by juliet@localhost from the server", ids)
		}
		if el.Child(nsSID, "origin-id") == nil {
			t.Fatalf("origin-id was removed: %s", el)
		}
		sid = strings.TrimPrefix(ids[0], "juliet@localhost/")
	}
	balcony.Send("<message type='chat' to='romeo@localhost'><body>hi romeo</body></message>")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), balcony.JID, "hi romeo")
	// A chat state alone is not archived; a message to an offline account is.
	romeo.Send("<message type='chat' to='juliet@localhost'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	balcony.NextNamed("message")
	chamber.NextNamed("message")
	romeo.Send("<message type='chat' to='nurse@localhost'><body>for the nurse</body></message>")
	romeo.Ping()

	// The results go to the querying session only.
	results, iq := query(balcony, "", "")
	if got := bodies(results); got != "hello,hi romeo" {
		t.Fatalf("juliet's archive: %s", got)
	}
	if f := fin(t, iq); f.Attr("complete") != "true" || f.Child("http://jabber.org/protocol/rsm", "set").Child("http://jabber.org/protocol/rsm", "first").Text() != sid {
		t.Fatalf("fin %s, want complete and first %s", f, sid)
	}
	chamber.Ping()
	results, _ = query(romeo, "", form("with", "nurse@localhost"))
	if got := bodies(results); got != "for the nurse" {
		t.Fatalf("romeo's archive with the nurse: %s", got)
	}
	nurse := xmpptest.Login(t, s, "nurse", "pw", "home")
	results, _ = query(nurse, "", "")
	if got := bodies(results); got != "for the nurse" {
		t.Fatalf("the nurse's archive: %s", got)
	}

	// Retraction: a tombstone in both archives, and the retraction archived.
	romeo.Send("<message type='chat' to='juliet@localhost' id='r1'><retract xmlns='urn:xmpp:message-retract:1' id='o1'/>" +
		"<body>retracted</body><store xmlns='urn:xmpp:hints'/></message>")
	balcony.NextNamed("message")
	chamber.NextNamed("message")
	for _, c := range []*xmpptest.Client{balcony, romeo} {
		results, _ = query(c, "", form("with", map[*xmpptest.Client]string{balcony: "romeo@localhost", romeo: "juliet@localhost"}[c]))
		if got := bodies(results); got != "-,hi romeo,retracted" {
			t.Fatalf("%s after the retraction: %s", c.JID, got)
		}
		tomb := results[0].Child("urn:xmpp:message-retract:1", "retracted")
		if tomb == nil || tomb.Attr("id") != "r1" || tomb.Attr("stamp") == "" || results[0].Child(nsSID, "origin-id") == nil {
			t.Fatalf("tombstone %s", results[0])
		}
	}

	// Bad input.
	for _, tc := range []struct{ payload, condition string }{
		{form("unknown-field", "x"), "feature-not-implemented"},
		{form("start", "yesterday"), "bad-request"},
		{form("with", "@@"), "bad-request"},
		{form("{urn:xmpp:fulltext:0}fulltext", "-spam !!!"), "bad-request"},
		{form("after-id", "nonsense"), "item-not-found"},
		{form("ids", "99999999"), "item-not-found"},
		{"<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>", "bad-request"},
		{"<set xmlns='http://jabber.org/protocol/rsm'><after>" + sid + "x</after></set>", "item-not-found"},
	} {
		if _, iq := query(balcony, "", tc.payload); true {
			xmpptest.ExpectError(t, iq, tc.condition)
		}
	}
	_, iq = query(balcony, "romeo@localhost", "")
	xmpptest.ExpectError(t, iq, "forbidden")
	// A huge max is capped at MaxPage (3); the last page comes with before.
	results, iq = query(romeo, "", "<set xmlns='http://jabber.org/protocol/rsm'><max>10000000</max></set>")
	if len(results) != 3 || fin(t, iq).Attr("complete") != "false" {
		t.Fatalf("huge max: %d results, %s", len(results), iq)
	}
	results, iq = query(romeo, "", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set><flip-page/>")
	if got := bodies(results); got != "retracted,for the nurse" || fin(t, iq).Attr("complete") != "false" {
		t.Fatalf("flipped last page: %s, %s", got, iq)
	}

	// Form discovery.
	balcony.Send("<iq type='get' id='f1'><query xmlns='urn:xmpp:mam:2'/></iq>")
	if el := balcony.NextNamed("iq"); !strings.Contains(el.String(), "{urn:xmpp:fulltext:0}fulltext") || !strings.Contains(el.String(), "before-id") {
		t.Fatalf("form %s", el)
	}

	// Preferences: never archive romeo; his messages then carry no stanza-id.
	balcony.Send("<iq type='set' id='p1'><prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never><jid>romeo@localhost</jid></never></prefs></iq>")
	if el := balcony.NextNamed("iq"); el.Attr("type") != "result" || !strings.Contains(el.String(), "romeo@localhost") {
		t.Fatalf("prefs set: %s", el)
	}
	chamber.Send("<iq type='get' id='p2'><prefs xmlns='urn:xmpp:mam:2'/></iq>")
	if el := chamber.NextNamed("iq"); !strings.Contains(el.String(), "<never><jid>romeo@localhost</jid></never>") {
		t.Fatalf("prefs get: %s", el)
	}
	romeo.Send("<message type='chat' to='juliet@localhost'><body>unrecorded</body></message>")
	for _, c := range []*xmpptest.Client{balcony, chamber} {
		if el := c.NextNamed("message"); el.Child(nsSID, "stanza-id") != nil {
			t.Fatalf("a message juliet does not archive has a stanza-id: %s", el)
		}
	}
	results, _ = query(romeo, "", form("with", "juliet@localhost")+"<set xmlns='http://jabber.org/protocol/rsm'><before/></set>")
	if got := bodies(results); !strings.HasSuffix(got, "unrecorded") {
		t.Fatalf("romeo still archives his side: %s", got)
	}
}

// XEP-0313 §7: the archive is announced on the account's bare JID.
func TestDiscoOnAccount(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	c := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	c.Send("<iq type='get' id='d' to='juliet@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := c.NextNamed("iq").Child("http://jabber.org/protocol/disco#info", "query")
	var features []string
	for _, f := range q.ChildElements() {
		if f.Name.Local == "feature" {
			features = append(features, f.Attr("var"))
		}
	}
	for _, want := range []string{"urn:xmpp:mam:2", "urn:xmpp:mam:1", "urn:xmpp:mam:2#extended", "urn:xmpp:fulltext:0", "vcard-temp"} {
		if !slices.Contains(features, want) {
			t.Errorf("account disco#info lacks %s: %v", want, features)
		}
	}
}

// romeoWrites starts a server where romeo writes bodies to juliet, one
// at a time, and returns juliet logged in.
func romeoWrites(t *testing.T, bodies ...string) *xmpptest.Client {
	t.Helper()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	for _, b := range bodies {
		romeo.Send("<message type='chat' to='juliet@localhost/balcony'><body>" + b + "</body></message>")
		juliet.NextNamed("message")
	}
	return juliet
}

// Clients of XEP-0313 version 1 query in urn:xmpp:mam:1 and get their
// results, fin, form and preferences in that namespace.
func TestVersion1(t *testing.T) {
	t.Parallel()
	juliet := romeoWrites(t, "one", "two", "three")
	const ns1 = "urn:xmpp:mam:1"
	juliet.Send("<iq type='set' id='q1'><query xmlns='" + ns1 + "' queryid='v1'>" +
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + ns1 + "</value></field>" +
		"<field var='with'><value>romeo@localhost</value></field></x>" +
		"<set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></query></iq>")
	var got []string
	for {
		el := juliet.Next()
		if el.Name.Local == "iq" {
			if fin := el.Child(ns1, "fin"); el.Attr("type") != "result" || fin == nil || fin.Attr("complete") != "false" {
				t.Fatalf("answer %s", el)
			}
			break
		}
		res := el.Child(ns1, "result")
		if res == nil || res.Attr("queryid") != "v1" {
			t.Fatalf("got %s, want a version 1 result", el)
		}
		got = append(got, res.Child("urn:xmpp:forward:0", "forwarded").Child("jabber:client", "message").Child("jabber:client", "body").Text())
	}
	if strings.Join(got, ",") != "one,two" {
		t.Fatalf("results %v", got)
	}
	juliet.Send("<iq type='get' id='f'><query xmlns='" + ns1 + "'/></iq>")
	if q := juliet.NextNamed("iq").Child(ns1, "query"); q == nil {
		t.Fatal("no version 1 form")
	}
	juliet.Send("<iq type='set' id='p'><prefs xmlns='" + ns1 + "' default='roster'><never><jid>nurse@localhost</jid></never></prefs></iq>")
	p := juliet.NextNamed("iq").Child(ns1, "prefs")
	if p == nil || p.Attr("default") != "roster" || p.Child(ns1, "never").Child(ns1, "jid").Text() != "nurse@localhost" {
		t.Fatalf("version 1 prefs answer %v", p)
	}
}

// TestArchiveDisabled: with the archive turned off, messages are
// delivered without stanza ids, nothing answers archive queries, and
// the account does not announce the feature.
func TestArchiveDisabled(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t, func(c *config.Config) { c.Archive.Enabled = false })
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()
	romeo.Send("<message type='chat' to='juliet@localhost'><body>hello</body></message>")
	el := juliet.NextNamed("message")
	xmpptest.ExpectBody(t, el, romeo.JID, "hello")
	if el.Child(nsSID, "stanza-id") != nil {
		t.Fatalf("got a stanza id without an archive: %s", el)
	}
	juliet.Send("<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2'/></iq>")
	if iq := juliet.NextNamed("iq"); iq.Attr("type") != "error" || iq.Child("jabber:client", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "service-unavailable") == nil {
		t.Fatalf("archive query answered with %s, want service-unavailable", iq)
	}
	juliet.Send("<iq type='get' id='d1' to='juliet@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	info := juliet.NextNamed("iq")
	for _, f := range info.Child("http://jabber.org/protocol/disco#info", "query").ChildElements() {
		if f.Name.Local == "feature" && f.Attr("var") == nsMAM {
			t.Fatalf("the account announces %s without an archive", nsMAM)
		}
	}
}

// roomsOf starts a server with the external component rooms.localhost,
// standing for another room service, and returns it connected and juliet
// online.
func roomsOf(t *testing.T) (rooms, juliet *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, func(c *config.Config) {
		c.Components.External = append(c.Components.External, config.ExternalComponent{Domain: "rooms.localhost", Secret: "a secret long enough"})
	})
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	rooms = xmpptest.ConnectComponent(t, s.ComponentAddr, "rooms.localhost", "a secret long enough")
	juliet = xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Online()
	return rooms, juliet
}

// TestRoomStanzaIDKept: a room of another service (here an external
// component) marks its messages with its own stanza id, by which clients
// page the room's archive; the server keeps it, and strips only ids that
// claim to be by its own accounts.
func TestRoomStanzaIDKept(t *testing.T) {
	rooms, juliet := roomsOf(t)
	rooms.Send("<message type='groupchat' from='verona@rooms.localhost/romeo' to='juliet@localhost/balcony' id='g1'><body>hi</body>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' by='verona@rooms.localhost' id='room-1'/>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@localhost' id='forged'/></message>")
	m := juliet.NextNamed("message")
	var by []string
	for _, ch := range m.ChildElements() {
		if ch.Name.Space == nsSID && ch.Name.Local == "stanza-id" {
			by = append(by, ch.Attr("by")+"/"+ch.Attr("id"))
		}
	}
	if len(by) != 1 || by[0] != "verona@rooms.localhost/room-1" {
		t.Fatalf("stanza ids %v, want the room's alone", by)
	}
}

// TestNoteToSelf: a message to one's own account, with 'to' or without
// (RFC 6120 §10.3.1), is archived once.
func TestNoteToSelf(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	c := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	c.Online()
	c.Send("<message type='chat' to='juliet@localhost'><body>addressed</body></message>")
	c.NextNamed("message")
	c.Send("<message type='chat'><body>unaddressed</body></message>")
	c.NextNamed("message")
	if msgs, answer := query(c, "", form()); bodies(msgs) != "addressed,unaddressed" {
		t.Errorf("archive %q (%s), want each note once", bodies(msgs), answer)
	}
}

// TestEncryptedArchived: an end-to-end encrypted message has no body to
// show, but it is the conversation (XEP-0384 OMEMO, in both namespaces;
// XEP-0373 OpenPGP; any marked with XEP-0380), and clients read it back
// from the archive even without a <store/> hint. An OMEMO message
// without a payload (a key transport) is not.
func TestEncryptedArchived(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	c := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	for _, m := range []string{
		"<message type='chat' id='omemo2'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'/><payload>AAAA</payload></encrypted></message>",
		"<message type='chat' id='legacy'><encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'/><payload>AAAA</payload></encrypted></message>",
		"<message type='chat' id='keys'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'><keys jid='juliet@localhost'/></header></encrypted></message>",
		"<message type='chat' id='openpgp'><openpgp xmlns='urn:xmpp:openpgp:0'>BBBB</openpgp></message>",
		"<message type='chat' id='eme'><encryption xmlns='urn:xmpp:eme:0' namespace='urn:example:cipher'/><x xmlns='urn:example:cipher'>CCCC</x></message>",
		"<message type='chat' id='plain'><body>the end</body></message>",
	} {
		c.Send(strings.Replace(m, "<message ", "<message to='juliet@localhost' ", 1))
	}
	c.Ping()
	msgs, answer := query(c, "", form())
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Attr("id"))
	}
	if got := strings.Join(ids, ","); got != "omemo2,legacy,openpgp,eme,plain" {
		t.Errorf("archived %q (%s), want every encrypted message but the key transport", got, answer)
	}
}

// XEP-0441 §2.3 (XEP-0313 §6 before): a JID with a resource in the
// <always/> or <never/> list matches that full JID only, a bare JID
// every resource; the preferences come back as they were set.
func TestPrefsFullJID(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	orchard := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	hall := xmpptest.Login(t, s, "romeo", "pw", "hall")
	archived := func(from *xmpptest.Client) bool {
		t.Helper()
		from.Send("<message type='chat' to='juliet@localhost/balcony'><body>hi</body></message>")
		return juliet.NextNamed("message").Child(nsSID, "stanza-id") != nil
	}
	for _, tc := range []struct {
		prefs           string
		orchard, others bool
	}{
		{"<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never><jid>romeo@localhost/orchard</jid></never></prefs>", false, true},
		{"<prefs xmlns='urn:xmpp:mam:2' default='never'><always><jid>romeo@localhost/orchard</jid></always><never/></prefs>", true, false},
	} {
		if got := juliet.IQ("set", "", tc.prefs); got.Attr("type") != "result" || got.FirstChildElement().String() != tc.prefs {
			t.Fatalf("prefs set %s answered %s", tc.prefs, got)
		}
		if got := juliet.IQ("get", "", "<prefs xmlns='urn:xmpp:mam:2'/>"); got.FirstChildElement().String() != tc.prefs {
			t.Fatalf("prefs get answered %s, want %s", got, tc.prefs)
		}
		if got := archived(orchard); got != tc.orchard {
			t.Errorf("under %s a message from romeo's orchard is archived: %v", tc.prefs, got)
		}
		if got := archived(hall); got != tc.others {
			t.Errorf("under %s a message from romeo's hall is archived: %v", tc.prefs, got)
		}
	}
}

// TestForgedStanzaIDOtherCase: XEP-0359 §5: only this server may put a
// <stanza-id/> by one of its accounts on a message. 'by' is a JID, which
// clients compare as one: a forged id by the recipient's account written
// in other case, or with a resource, is removed like one written as the
// server writes it, and the message carries the server's id alone.
func TestForgedStanzaIDOtherCase(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Send("<message type='chat' to='juliet@localhost/balcony' id='m1'><body>hello</body>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' by='Juliet@LocalHost' id='forged-case'/>" +
		"<stanza-id xmlns='urn:xmpp:sid:0' by='juliet@localhost/balcony' id='forged-resource'/></message>")
	m := juliet.NextNamed("message")
	var ids []string
	for _, ch := range m.ChildElements() {
		if ch.Name.Space == nsSID && ch.Name.Local == "stanza-id" {
			ids = append(ids, ch.Attr("by")+"/"+ch.Attr("id"))
		}
	}
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "juliet@localhost/") || strings.Contains(ids[0], "forged") {
		t.Fatalf("stanza ids %v, want the server's alone", ids)
	}
}

// TestBounceWithoutArchiveID: XEP-0313 §3.5: the sender of a message may
// not read the recipient's archive, so the error that bounces a message
// the recipient's archive stored (here: offline storage is full) must
// not carry the <stanza-id/> that archive gave it.
func TestBounceWithoutArchiveID(t *testing.T) {
	t.Parallel()
	_, romeo := offlineFull(t)
	romeo.Send("<message type='chat' to='juliet@localhost' id='m2'><body>one too many</body></message>")
	bounce := romeo.NextNamed("message")
	if bounce.Attr("type") != "error" || bounce.Attr("id") != "m2" {
		t.Fatalf("got %s, want m2 bounced", bounce)
	}
	if sid := bounce.Child(nsSID, "stanza-id"); sid != nil {
		t.Errorf("the bounce carries juliet's archive id: %s", bounce)
	}
}

// TestBounceWithdrawnFromArchive: a message the recipient's archive
// stored and the server then bounced (here: offline storage is full) is
// one the sender is told failed (RFC 6120 §8.3); the recipient must not
// find it in her archive later. Its row stays, without content, as a
// placeholder: XEP-0313 §3.2 allows no holes in an archive.
func TestBounceWithdrawnFromArchive(t *testing.T) {
	t.Parallel()
	s, romeo := offlineFull(t)
	romeo.Send("<message type='chat' to='juliet@localhost/balcony' id='m2'><body>one too many</body></message>")
	xmpptest.ExpectError(t, romeo.NextNamed("message"), "service-unavailable")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	results, iq := query(juliet, "", "")
	fin(t, iq)
	if got := bodies(results); got != "kept offline,-" {
		t.Fatalf("juliet's archive holds %q, want the message kept offline and a placeholder", got)
	}
	if p := results[1]; len(p.Children) != 0 || p.Attr("id") != "m2" {
		t.Errorf("placeholder %s, want m2 without content", p)
	}
	// The sender's own archive keeps what it sent, as a client keeps it.
	results, iq = query(romeo, "", "")
	fin(t, iq)
	if got := bodies(results); got != "kept offline,one too many" {
		t.Errorf("romeo's archive holds %q, want both messages he sent", got)
	}
}

// TestOfflineDeliveryArchivedOnce: a message kept offline is archived
// for its recipient when it arrives, and delivered at login with that
// archive's <stanza-id/> (XEP-0359 §5, XEP-0313 §5.1.2), not archived a
// second time.
func TestOfflineDeliveryArchivedOnce(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Send("<message type='chat' to='juliet@localhost' id='m1'><body>kept offline</body></message>")
	romeo.Ping()
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Online()
	m := juliet.NextNamed("message")
	xmpptest.ExpectBody(t, m, romeo.JID, "kept offline")
	var ids []string
	for _, ch := range m.ChildElements() {
		if ch.Name.Space == nsSID && ch.Name.Local == "stanza-id" {
			ids = append(ids, ch.Attr("by")+" "+ch.Attr("id"))
		}
	}
	juliet.Ping()
	results, iq := query(juliet, "", "")
	fin(t, iq)
	if len(results) != 1 {
		t.Fatalf("juliet's archive holds %q, want the message once", bodies(results))
	}
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "juliet@localhost ") {
		t.Fatalf("delivered with stanza ids %v, want juliet's archive's one", ids)
	}
	id := strings.TrimPrefix(ids[0], "juliet@localhost ")
	// The archive id is the <result/>'s, which query drops: RSM's <last/> says it.
	_, iq = query(juliet, "", "<set xmlns='http://jabber.org/protocol/rsm'><before/><max>1</max></set>")
	if last := fin(t, iq).Child("http://jabber.org/protocol/rsm", "set").Child("http://jabber.org/protocol/rsm", "last"); last == nil || last.Text() != id {
		t.Errorf("archive's last id %v, want %s, the delivered stanza-id", last, id)
	}
}

// offlineFull returns a server whose offline storage keeps one message
// per account, juliet's full with one romeo sent her, and romeo's
// session.
func offlineFull(t *testing.T) (*xmpptest.Server, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, func(c *config.Config) { c.Offline.Quota = 1 })
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Send("<message type='chat' to='juliet@localhost' id='m1'><body>kept offline</body></message>")
	return s, romeo
}
