package bookmarks_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsPubsub  = "http://jabber.org/protocol/pubsub"
	nsEvent   = "http://jabber.org/protocol/pubsub#event"
	nsPrivate = "jabber:iq:private"
	nsBM      = "urn:xmpp:bookmarks:1"
	nsLegacy  = "storage:bookmarks"
)

func privateSet(storage string) string {
	return "<query xmlns='" + nsPrivate + "'><storage xmlns='" + nsLegacy + "'>" + storage + "</storage></query>"
}

const privateGet = "<query xmlns='" + nsPrivate + "'><storage xmlns='" + nsLegacy + "'/></query>"

// legacy returns the conferences of a private-storage result by room.
func legacy(t *testing.T, res *xmlstream.Element) map[string]*xmlstream.Element {
	t.Helper()
	storage := res.Child(nsPrivate, "query").Child(nsLegacy, "storage")
	if storage == nil {
		t.Fatalf("got %s, want a storage:bookmarks element", res)
	}
	out := map[string]*xmlstream.Element{}
	for _, c := range storage.ChildElements() {
		out[c.Attr("jid")] = c
	}
	return out
}

// pepItems returns the items of the bookmarks node by id.
func pepItems(t *testing.T, c *xmpptest.Client) map[string]*xmlstream.Element {
	t.Helper()
	res := c.Result("get", "", "<pubsub xmlns='"+nsPubsub+"'><items node='"+nsBM+"'/></pubsub>")
	out := map[string]*xmlstream.Element{}
	for _, it := range res.Child(nsPubsub, "pubsub").Child(nsPubsub, "items").ChildElements() {
		out[it.Attr("id")] = it.FirstChildElement()
	}
	return out
}

// modern logs juliet in with a client that wants bookmark notifications.
func modern(t *testing.T, s *xmpptest.Server) *xmpptest.Client {
	c := xmpptest.Login(t, s, "juliet", "secret", "modern")
	// The server learns what the client wants from its answer to the
	// disco#info query, on its own time. The client also wants a node
	// that holds an item already: that item's arrival shows that the
	// server knows, before anything is published.
	const ready = "urn:example:ready"
	c.Result("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='"+ready+"'><item id='1'><ready xmlns='"+ready+"'/></item></publish></pubsub>")
	presence, info := xmpptest.CapsPresence(nsBM+"+notify", ready+"+notify")
	c.Send(presence)
	xmpptest.AnswerDisco(t, c, info)
	for {
		msg := c.NextNamed("message")
		if e := msg.Child(nsEvent, "event"); e != nil && e.Child(nsEvent, "items").Attr("node") == ready {
			return c
		}
	}
}

// events returns the ids of the items published and retracted in the
// next bookmark notification of c.
func events(t *testing.T, c *xmpptest.Client) (published, retracted []string) {
	t.Helper()
	msg := c.NextNamed("message")
	for msg.Child(nsEvent, "event") == nil {
		msg = c.NextNamed("message")
	}
	items := msg.Child(nsEvent, "event").Child(nsEvent, "items")
	if items == nil || items.Attr("node") != nsBM {
		t.Fatalf("got %s, want a bookmarks event", msg)
	}
	for _, e := range items.ChildElements() {
		if e.Name.Local == "retract" {
			retracted = append(retracted, e.Attr("id"))
		} else {
			published = append(published, e.Attr("id"))
		}
	}
	return published, retracted
}

func TestCompatAnnounced(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	c := xmpptest.Login(t, s, "juliet", "secret", "old")
	res := c.Result("get", "", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	for _, f := range res.Child("http://jabber.org/protocol/disco#info", "query").ChildElements() {
		if f.Attr("var") == nsBM+"#compat" {
			return
		}
	}
	t.Fatalf("got %s, want the feature %s#compat", res, nsBM)
}

// TestBothWays has a client of XEP-0048 over private storage and one of
// XEP-0402 change the same bookmarks.
func TestBothWays(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	mod := modern(t, s)

	// The old client stores two rooms, a URL and a conference without a
	// valid room: the rooms become items, with everything they hold.
	old.Result("set", "", privateSet(
		"<conference jid='balcony@rooms.localhost' autojoin='1' name='Balcony'><nick>Juliet</nick><password>rose</password><x xmlns='urn:example:ext'/></conference>"+
			"<conference jid='crypt@rooms.localhost'/>"+
			"<url name='Verona' url='https://verona.example/'/>"+
			"<conference jid='no@such@room' name='broken'/>"))
	for range 2 {
		if pub, _ := events(t, mod); len(pub) != 1 {
			t.Fatalf("published %v, want one item per event", pub)
		}
	}
	items := pepItems(t, mod)
	if ids := slices.Sorted(maps.Keys(items)); !slices.Equal(ids, []string{"balcony@rooms.localhost", "crypt@rooms.localhost"}) {
		t.Fatalf("items %v", ids)
	}
	want, _ := xmlstream.ParseElement([]byte("<conference xmlns='"+nsBM+"' name='Balcony' autojoin='true'><nick>Juliet</nick><password>rose</password><extensions><x xmlns='urn:example:ext'/></extensions></conference>"), xmlstream.Limits{MaxStanzaBytes: 1 << 10, MaxDepth: 8})
	if got := items["balcony@rooms.localhost"]; !got.Equal(want) {
		t.Errorf("item %s, want %s", got, want)
	}

	// The modern client adds a room and the old one sees it.
	// Its own notification comes before the result.
	mod.Send("<iq type='set' id='p'><pubsub xmlns='" + nsPubsub + "'><publish node='" + nsBM + "'><item id='tomb@rooms.localhost'>" +
		"<conference xmlns='" + nsBM + "' name='Tomb' autojoin='true'><nick>J</nick></conference></item></publish></pubsub></iq>")
	events(t, mod)
	if res := mod.NextNamed("iq"); res.Attr("type") != "result" {
		t.Fatalf("got %s, want the publish's result", res)
	}
	got := legacy(t, old.Result("get", "", privateGet))
	if len(got) != 3 || got["tomb@rooms.localhost"] == nil || got["tomb@rooms.localhost"].Attr("autojoin") != "true" ||
		got["tomb@rooms.localhost"].Child(nsLegacy, "nick").Text() != "J" {
		t.Fatalf("private storage has %v", got)
	}
	if b := got["balcony@rooms.localhost"]; b.Child(nsLegacy, "password").Text() != "rose" || b.Child("urn:example:ext", "x") == nil {
		t.Errorf("balcony is %s", b)
	}

	// The old client writes back its list without the crypt and with
	// the balcony renamed: one publish, then one retraction; the tomb,
	// unchanged, is not published again.
	old.Result("set", "", privateSet(
		"<conference jid='balcony@rooms.localhost' autojoin='true' name='The balcony'><nick>Juliet</nick><password>rose</password><x xmlns='urn:example:ext'/></conference>"+
			"<conference jid='tomb@rooms.localhost' autojoin='true' name='Tomb'><nick>J</nick></conference>"))
	if published, _ := events(t, mod); !slices.Equal(published, []string{"balcony@rooms.localhost"}) {
		t.Fatalf("published %v", published)
	}
	if _, retracted := events(t, mod); !slices.Equal(retracted, []string{"crypt@rooms.localhost"}) {
		t.Fatalf("retracted %v", retracted)
	}
	mod.Ping() // nothing more: the tomb was not published again
	if items := pepItems(t, mod); len(items) != 2 || items["balcony@rooms.localhost"].Attr("name") != "The balcony" {
		t.Fatalf("items %v", items)
	}

	// Emptying the list empties the node.
	old.Result("set", "", privateSet(""))
	if len(pepItems(t, old)) != 0 || len(legacy(t, old.Result("get", "", privateGet))) != 0 {
		t.Fatal("the bookmarks were not removed")
	}
}

// TestLegacyDataMoves checks that bookmarks kept in private storage
// before the conversion existed move to PEP at the first get.
func TestLegacyDataMoves(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	stored := "<query xmlns='" + nsPrivate + "'><storage xmlns='" + nsLegacy + "'><conference jid='hall@rooms.localhost' name='Hall'/></storage></query>"
	if err := postgres.NewPrivate(s.DB).Set(context.Background(), xmpptest.Domain, "juliet", nsLegacy, []byte(stored), 1<<20); err != nil {
		t.Fatal(err)
	}
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	if got := legacy(t, old.Result("get", "", privateGet)); got["hall@rooms.localhost"] == nil {
		t.Fatalf("private storage has %v", got)
	}
	if items := pepItems(t, old); items["hall@rooms.localhost"] == nil || items["hall@rooms.localhost"].Attr("name") != "Hall" {
		t.Fatalf("items %v, want the hall", items)
	}
	if _, err := postgres.NewPrivate(s.DB).Get(context.Background(), xmpptest.Domain, "juliet", nsLegacy); err == nil {
		t.Error("the moved bookmarks are still in private storage")
	}
}

// TestLegacyDataMovesAtStart checks that bookmarks found in private
// storage when the server starts (imported, or kept by an earlier
// version) are in PEP for clients that never use private storage.
func TestLegacyDataMovesAtStart(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	stored := "<query xmlns='" + nsPrivate + "'><storage xmlns='" + nsLegacy + "'><conference jid='hall@rooms.localhost' name='Hall'/></storage></query>"
	if err := postgres.NewPrivate(s.DB).Set(context.Background(), xmpptest.Domain, "juliet", nsLegacy, []byte(stored), 1<<20); err != nil {
		t.Fatal(err)
	}
	s = xmpptest.Restart(t, s)
	mod := xmpptest.Login(t, s, "juliet", "secret", "modern")
	if items := pepItems(t, mod); items["hall@rooms.localhost"] == nil {
		t.Fatalf("items %v, want the hall", items)
	}
	if _, err := postgres.NewPrivate(s.DB).Get(context.Background(), xmpptest.Domain, "juliet", nsLegacy); err == nil {
		t.Error("the moved bookmarks are still in private storage")
	}
}

// TestTooMany checks that a list longer than a node keeps is refused
// whole, as private storage refuses data over its limit.
func TestTooMany(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", privateSet("<conference jid='hall@rooms.localhost'/>"))
	var many strings.Builder
	for i := range 257 {
		fmt.Fprintf(&many, "<conference jid='room%d@rooms.localhost'/>", i)
	}
	old.Send("<iq type='set' id='big'>" + privateSet(many.String()) + "</iq>")
	xmpptest.ExpectError(t, old.NextNamed("iq"), "not-acceptable")
	if items := pepItems(t, old); len(items) != 1 || items["hall@rooms.localhost"] == nil {
		t.Fatalf("items %v, want the hall alone", items)
	}
}

// TestFailedSetLosesNothing checks that a set refused for the account's
// PEP limits keeps the rooms it would have replaced.
func TestFailedSetLosesNothing(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.PEP.MaxBytes = 2000 })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", privateSet("<conference jid='hall@rooms.localhost' name='Hall'/>"))
	old.Send("<iq type='set' id='big'>" + privateSet("<conference jid='crypt@rooms.localhost' name='"+strings.Repeat("c", 3000)+"'/>") + "</iq>")
	xmpptest.ExpectError(t, old.NextNamed("iq"), "not-acceptable")
	if items := pepItems(t, old); items["hall@rooms.localhost"] == nil {
		t.Fatalf("items %v, want the hall kept", items)
	}
}

// TestSetKeepsWhatItCannotShow checks that a private-storage set leaves
// alone the items XEP-0048 cannot show, and does not publish again an
// item whose room JID it writes in another case.
func TestSetKeepsWhatItCannotShow(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", privateSet("")) // makes the node as XEP-0402 wants it
	mod := modern(t, s)
	for id, payload := range map[string]string{
		"Hall@Rooms.localhost": "<conference xmlns='" + nsBM + "' autojoin='1'/>",
		"not@a@room":           "<conference xmlns='" + nsBM + "'/>",
		"odd@rooms.localhost":  "<odd xmlns='urn:example:odd'/>",
	} {
		mod.Send("<iq type='set' id='p'><pubsub xmlns='" + nsPubsub + "'><publish node='" + nsBM + "'><item id='" + id + "'>" + payload + "</item></publish></pubsub></iq>")
		events(t, mod)
		if res := mod.NextNamed("iq"); res.Attr("type") != "result" {
			t.Fatalf("got %s, want the publish's result", res)
		}
	}
	got := legacy(t, old.Result("get", "", privateGet))
	if len(got) != 1 || got["Hall@Rooms.localhost"] == nil {
		t.Fatalf("private storage shows %v, want the hall alone", got)
	}
	old.Result("set", "", privateSet("<conference jid='Hall@Rooms.localhost' autojoin='true'/>"))
	mod.Ping() // no notification: nothing changed
	if items := pepItems(t, old); len(items) != 3 {
		t.Fatalf("items %v, want all three kept", items)
	}
}

// TestSetOnSmallNode checks that a set on a node made with room for one
// item (a publish without options) keeps every room of the list.
func TestSetOnSmallNode(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", "<pubsub xmlns='"+nsPubsub+"'><publish node='"+nsBM+"'><item id='a@rooms.localhost'><conference xmlns='"+nsBM+"'/></item></publish></pubsub>")
	old.Result("set", "", privateSet("<conference jid='a@rooms.localhost'/><conference jid='b@rooms.localhost'/>"))
	old.Result("set", "", privateSet("<conference jid='a@rooms.localhost'/><conference jid='c@rooms.localhost'/>"))
	if items := pepItems(t, old); len(items) != 2 || items["a@rooms.localhost"] == nil || items["c@rooms.localhost"] == nil {
		t.Fatalf("items %v, want a and c", items)
	}
}

// TestWidenedNodeTakesClientOptions checks that a node the converter
// had to change (made by a publish without options, too small for the
// list) gets the whole configuration XEP-0402 asks, so that a client's
// next publish with XEP-0402's publish-options (Conversations, Dino,
// Gajim) meets them instead of failing with precondition-not-met.
func TestWidenedNodeTakesClientOptions(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", "<pubsub xmlns='"+nsPubsub+"'><publish node='"+nsBM+"'><item id='a@rooms.localhost'><conference xmlns='"+nsBM+"'/></item></publish></pubsub>")
	old.Result("set", "", privateSet("<conference jid='a@rooms.localhost'/><conference jid='b@rooms.localhost'/>"))
	field := func(name, value string) string {
		return "<field var='" + name + "'><value>" + value + "</value></field>"
	}
	old.Result("set", "", "<pubsub xmlns='"+nsPubsub+"'><publish node='"+nsBM+"'><item id='c@rooms.localhost'><conference xmlns='"+nsBM+"'/></item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'>"+
		field("FORM_TYPE", "http://jabber.org/protocol/pubsub#publish-options")+
		field("pubsub#persist_items", "true")+field("pubsub#max_items", "max")+
		field("pubsub#send_last_published_item", "never")+field("pubsub#access_model", "whitelist")+
		"</x></publish-options></pubsub>")
	if items := pepItems(t, old); len(items) != 3 {
		t.Fatalf("items %v, want a, b and c", items)
	}
}

// TestStartKeepsNewerBookmarks checks that private-storage bookmarks
// found at start do not replace an account's PEP bookmarks, and are
// dropped.
func TestStartKeepsNewerBookmarks(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", privateSet("<conference jid='new@rooms.localhost'/>"))
	stored := "<query xmlns='" + nsPrivate + "'><storage xmlns='" + nsLegacy + "'><conference jid='stale@rooms.localhost'/></storage></query>"
	if err := postgres.NewPrivate(s.DB).Set(context.Background(), xmpptest.Domain, "juliet", nsLegacy, []byte(stored), 1<<20); err != nil {
		t.Fatal(err)
	}
	s = xmpptest.Restart(t, s)
	mod := xmpptest.Login(t, s, "juliet", "secret", "modern")
	if items := pepItems(t, mod); len(items) != 1 || items["new@rooms.localhost"] == nil {
		t.Fatalf("items %v, want the newer list", items)
	}

	// The superseded list leaves private storage, so that it neither
	// takes the account's room there nor comes back when the XEP-0402
	// node is deleted.
	if _, err := postgres.NewPrivate(s.DB).Get(context.Background(), xmpptest.Domain, "juliet", nsLegacy); err == nil {
		t.Error("the superseded bookmarks are still in private storage")
	}
	deleteNode := "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='" + nsBM + "'/></pubsub>"
	mod.Result("set", "", deleteNode)
	if got := legacy(t, mod.Result("get", "", privateGet)); len(got) != 0 {
		t.Fatalf("private storage shows %v after the bookmarks node was deleted", slices.Sorted(maps.Keys(got)))
	}

	// Imported while the server runs, they are superseded by the next set.
	if err := postgres.NewPrivate(s.DB).Set(context.Background(), xmpptest.Domain, "juliet", nsLegacy, []byte(stored), 1<<20); err != nil {
		t.Fatal(err)
	}
	mod.Result("set", "", privateSet("<conference jid='new@rooms.localhost'/>"))
	mod.Result("set", "", deleteNode)
	if got := legacy(t, mod.Result("get", "", privateGet)); len(got) != 0 {
		t.Fatalf("private storage shows %v after a set and the bookmarks node's deletion", slices.Sorted(maps.Keys(got)))
	}
}

// TestSetWithoutStorageRefused checks that a private-storage set in
// storage:bookmarks that holds no <storage/> is refused and leaves the
// bookmarks alone, rather than being taken for an empty list.
func TestSetWithoutStorageRefused(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", privateSet("<conference jid='hall@rooms.localhost' name='Hall'/>"))
	old.Send("<iq type='set' id='bad'><query xmlns='" + nsPrivate + "'><conference xmlns='" + nsLegacy + "' jid='crypt@rooms.localhost'/></query></iq>")
	xmpptest.ExpectError(t, old.NextNamed("iq"), "bad-request")
	if items := pepItems(t, old); len(items) != 1 || items["hall@rooms.localhost"] == nil {
		t.Fatalf("items %v, want the hall kept", items)
	}
}

// legacyPEPPublish is a publish of XEP-0048 bookmarks to PEP, as
// Converse.js and other clients of XEP-0048 §3 send it.
func legacyPEPPublish(storage string) string {
	return "<pubsub xmlns='" + nsPubsub + "'><publish node='" + nsLegacy + "'><item id='current'><storage xmlns='" + nsLegacy + "'>" + storage + "</storage></item></publish>" +
		"<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
		"<field var='pubsub#persist_items'><value>true</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub>"
}

// legacyPEP returns the conferences of the item of the PEP node
// storage:bookmarks by room.
func legacyPEP(t *testing.T, c *xmpptest.Client) map[string]*xmlstream.Element {
	t.Helper()
	res := c.Result("get", "", "<pubsub xmlns='"+nsPubsub+"'><items node='"+nsLegacy+"'/></pubsub>")
	items := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "items").ChildElements()
	if len(items) != 1 {
		t.Fatalf("got %s, want one item", res)
	}
	out := map[string]*xmlstream.Element{}
	for _, conf := range items[0].Child(nsLegacy, "storage").ChildElements() {
		out[conf.Attr("jid")] = conf
	}
	return out
}

// TestLegacyPEP has a client keeping XEP-0048 bookmarks in the PEP node
// storage:bookmarks and one of XEP-0402 change the same bookmarks, as
// Prosody's urn:xmpp:bookmarks:1#compat-pep does.
func TestLegacyPEP(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	mod := modern(t, s)

	// The old client publishes its list: the modern one is notified of
	// the room, with everything it holds.
	old.Result("set", "", legacyPEPPublish("<conference jid='balcony@rooms.localhost' autojoin='true' name='Balcony'><nick>Juliet</nick><password>rose</password></conference>"))
	if pub, _ := events(t, mod); !slices.Equal(pub, []string{"balcony@rooms.localhost"}) {
		t.Fatalf("published %v", pub)
	}
	b := pepItems(t, mod)["balcony@rooms.localhost"]
	if b == nil || b.Attr("autojoin") != "true" || b.Child(nsBM, "password").Text() != "rose" {
		t.Fatalf("item %s", b)
	}

	// The modern client adds a room and removes the balcony: the old
	// client's node shows it.
	mod.Send("<iq type='set' id='p'><pubsub xmlns='" + nsPubsub + "'><publish node='" + nsBM + "'><item id='tomb@rooms.localhost'>" +
		"<conference xmlns='" + nsBM + "' name='Tomb'><nick>J</nick></conference></item></publish></pubsub></iq>")
	events(t, mod)
	if res := mod.NextNamed("iq"); res.Attr("type") != "result" {
		t.Fatalf("got %s, want the publish's result", res)
	}
	mod.Send("<iq type='set' id='r'><pubsub xmlns='" + nsPubsub + "'><retract node='" + nsBM + "' notify='true'><item id='balcony@rooms.localhost'/></retract></pubsub></iq>")
	events(t, mod)
	if res := mod.NextNamed("iq"); res.Attr("type") != "result" {
		t.Fatalf("got %s, want the retraction's result", res)
	}
	got := legacyPEP(t, old)
	if len(got) != 1 || got["tomb@rooms.localhost"] == nil || got["tomb@rooms.localhost"].Child(nsLegacy, "nick").Text() != "J" {
		t.Fatalf("storage:bookmarks shows %v, want the tomb alone", got)
	}
}

// TestLegacyPEPStaysPrivate checks that the rooms of XEP-0402, with
// their passwords, go to a storage:bookmarks node made without
// publish-options only once it is private, and that deleting the
// XEP-0402 node empties that list too.
func TestLegacyPEPStaysPrivate(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	// A publish without options makes a node contacts may read.
	old.Result("set", "", "<pubsub xmlns='"+nsPubsub+"'><publish node='"+nsLegacy+"'><item id='current'><storage xmlns='"+nsLegacy+"'/></item></publish></pubsub>")
	old.Result("set", "", privateSet("<conference jid='balcony@rooms.localhost'><password>rose</password></conference>"))
	res := old.Result("get", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+nsLegacy+"'/></pubsub>")
	access := ""
	for _, f := range res.Child("http://jabber.org/protocol/pubsub#owner", "pubsub").Child("http://jabber.org/protocol/pubsub#owner", "configure").Child("jabber:x:data", "x").ChildElements() {
		if f.Attr("var") == "pubsub#access_model" {
			access = f.Child("jabber:x:data", "value").Text()
		}
	}
	if got := legacyPEP(t, old); got["balcony@rooms.localhost"] != nil && access != "whitelist" {
		t.Fatalf("storage:bookmarks shows the balcony with access model %q", access)
	}

	old.Result("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='"+nsBM+"'/></pubsub>")
	if got := legacyPEP(t, old); len(got) != 0 {
		t.Fatalf("storage:bookmarks shows %v after the bookmarks node was deleted", got)
	}
}

// TestSetRemovesEverySpelling checks that a room removed through private
// storage goes from the list even when XEP-0402 clients published it
// under two spellings of its JID, which XEP-0048 showed as two
// conferences.
func TestSetRemovesEverySpelling(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	old.Result("set", "", privateSet("<conference jid='crypt@rooms.localhost'/>"))
	for _, id := range []string{"Hall@Rooms.localhost", "hall@rooms.localhost"} {
		old.Result("set", "", "<pubsub xmlns='"+nsPubsub+"'><publish node='"+nsBM+"'><item id='"+id+"'><conference xmlns='"+nsBM+"'/></item></publish></pubsub>")
	}
	old.Result("set", "", privateSet("<conference jid='crypt@rooms.localhost'/>"))
	if got := legacy(t, old.Result("get", "", privateGet)); len(got) != 1 || got["crypt@rooms.localhost"] == nil {
		t.Fatalf("private storage shows %v, want the crypt alone", slices.Sorted(maps.Keys(got)))
	}
}

// TestLegacyPEPSeesExistingRooms checks that a client of XEP-0048 §3
// that reads the node storage:bookmarks before any client made it is
// shown the rooms XEP-0402 clients keep, as #compat-pep promises: the
// list it then publishes, with a room added, loses none of them.
func TestLegacyPEPSeesExistingRooms(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	mod := xmpptest.Login(t, s, "juliet", "secret", "modern")
	mod.Result("set", "", "<pubsub xmlns='"+nsPubsub+"'><publish node='"+nsBM+"'><item id='tomb@rooms.localhost'>"+
		"<conference xmlns='"+nsBM+"' name='Tomb' autojoin='true'><nick>J</nick><password>rose</password></conference></item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"+
		"<field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub>")

	old := xmpptest.Login(t, s, "juliet", "secret", "old")
	got := legacyPEP(t, old)
	tomb := got["tomb@rooms.localhost"]
	if len(got) != 1 || tomb == nil || tomb.Attr("name") != "Tomb" || tomb.Child(nsLegacy, "password").Text() != "rose" {
		t.Fatalf("storage:bookmarks shows %v, want the tomb", got)
	}
	// The list, with its password, is the account's only.
	res := old.Result("get", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+nsLegacy+"'/></pubsub>")
	for _, f := range res.Child("http://jabber.org/protocol/pubsub#owner", "pubsub").Child("http://jabber.org/protocol/pubsub#owner", "configure").Child("jabber:x:data", "x").ChildElements() {
		if f.Attr("var") == "pubsub#access_model" && f.Child("jabber:x:data", "value").Text() != "whitelist" {
			t.Fatalf("storage:bookmarks has access model %s", f.Child("jabber:x:data", "value").Text())
		}
	}
	old.Result("set", "", legacyPEPPublish("<conference jid='tomb@rooms.localhost' autojoin='true' name='Tomb'><nick>J</nick><password>rose</password></conference>"+
		"<conference jid='crypt@rooms.localhost' name='Crypt'/>"))
	if items := pepItems(t, mod); len(items) != 2 || items["tomb@rooms.localhost"] == nil || items["crypt@rooms.localhost"] == nil {
		t.Fatalf("items %v, want the tomb and the crypt", slices.Sorted(maps.Keys(items)))
	}
}
