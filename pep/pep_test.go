package pep_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/dataform"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsPubsub = "http://jabber.org/protocol/pubsub"
	nsEvent  = "http://jabber.org/protocol/pubsub#event"
	nsErrors = "http://jabber.org/protocol/pubsub#errors"
	mood     = "urn:example:mood"
)

// start returns a server with the accounts juliet, romeo and nurse.
func start(t *testing.T) *xmpptest.Server {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	return s
}

// online logs user in with resource and sends initial presence.
func online(t *testing.T, s *xmpptest.Server, user, resource string) *xmpptest.Client {
	c := xmpptest.Login(t, s, user, "secret", resource)
	c.Online()
	return c
}

// ok checks that el is an IQ result.
func ok(t *testing.T, el *xmlstream.Element) *xmlstream.Element {
	t.Helper()
	if el.Attr("type") != "result" {
		t.Fatalf("got %s, want a result", el)
	}
	return el
}

// refused checks that el is an IQ error with condition and, if app is not
// empty, the pubsub application condition app.
func refused(t *testing.T, el *xmlstream.Element, condition, app string) {
	t.Helper()
	e := xmpptest.ExpectError(t, el, condition)
	if app != "" && e.Child(nsErrors, app) == nil {
		t.Fatalf("got %s, want the pubsub condition %s", el, app)
	}
}

func publish(node, id, payload, options string) string {
	if id != "" {
		id = " id='" + id + "'"
	}
	if options != "" {
		options = "<publish-options><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
			options + "</x></publish-options>"
	}
	return "<pubsub xmlns='" + nsPubsub + "'><publish node='" + node + "'><item" + id + ">" + payload + "</item></publish>" + options + "</pubsub>"
}

func field(name, value string) string {
	return "<field var='" + name + "'><value>" + value + "</value></field>"
}

func items(node, extra string) string {
	return "<pubsub xmlns='" + nsPubsub + "'><items node='" + node + "'" + extra + "/></pubsub>"
}

func moodPayload(m string) string { return "<mood xmlns='" + mood + "'><" + m + "/></mood>" }

// itemIDs returns the ids of the items in a pubsub result, in order.
func itemIDs(t *testing.T, res *xmlstream.Element) []string {
	t.Helper()
	its := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "items")
	var ids []string
	for _, it := range its.ChildElements() {
		ids = append(ids, it.Attr("id"))
	}
	return ids
}

func TestPublishAndRetrieve(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")

	res := ok(t, juliet.IQ("set", "", publish(mood, "", moodPayload("happy"), "")))
	id := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "publish").Child(nsPubsub, "item").Attr("id")
	if id == "" {
		t.Fatalf("the result %s names no item id", res)
	}
	got := ok(t, juliet.IQ("get", "", items(mood, "")))
	if ids := itemIDs(t, got); len(ids) != 1 || ids[0] != id {
		t.Fatalf("items %v, want [%s]", ids, id)
	}
	if !strings.Contains(got.String(), "<happy") {
		t.Fatalf("got %s, want the payload", got)
	}

	// A node made by a publish without options keeps one item; with
	// max_items=max the node keeps them in publish order, and publishing
	// an id again moves it to the end.
	ok(t, juliet.IQ("set", "", publish(mood, "b", moodPayload("sad"), "")))
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(mood, "")))); len(ids) != 1 || ids[0] != "b" {
		t.Fatalf("items %v, want only the newest, [b]", ids)
	}
	const list = "urn:example:list"
	for _, id := range []string{"1", "2", "3", "1"} {
		ok(t, juliet.IQ("set", "", publish(list, id, "<x xmlns='"+list+"'/>", field("pubsub#max_items", "max"))))
	}
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(list, "")))); strings.Join(ids, ",") != "2,3,1" {
		t.Fatalf("items %v, want [2 3 1]", ids)
	}
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(list, " max_items='2'")))); strings.Join(ids, ",") != "3,1" {
		t.Fatalf("the newest two items are %v, want [3 1]", ids)
	}
	byID := "<pubsub xmlns='" + nsPubsub + "'><items node='" + list + "'><item id='2'/></items></pubsub>"
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", byID))); strings.Join(ids, ",") != "2" {
		t.Fatalf("item 2 asked by id gave %v", ids)
	}

	// Items outlive the server.
	s = xmpptest.Restart(t, s)
	juliet = online(t, s, "juliet", "balcony")
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(list, "")))); strings.Join(ids, ",") != "2,3,1" {
		t.Fatalf("after a restart the items are %v, want [2 3 1]", ids)
	}
}

// XEP-0223 and the way Conversations sets up its OMEMO nodes: publish
// with options, and on precondition-not-met configure the node and
// publish again.
func TestPublishOptions(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	const devices = "eu.siacs.conversations.axolotl.devicelist"
	list := "<list xmlns='eu.siacs.conversations.axolotl'><device id='1'/></list>"

	ok(t, juliet.IQ("set", "", publish(devices, "current", list, field("pubsub#access_model", "open"))))
	ok(t, juliet.IQ("set", "", publish(devices, "current", list, field("pubsub#access_model", "open"))))
	refused(t, juliet.IQ("set", "", publish(devices, "current", list, field("pubsub#access_model", "whitelist"))), "conflict", "precondition-not-met")
	refused(t, juliet.IQ("set", "", publish(devices, "current", list, field("pubsub#no_such_option", "1"))), "conflict", "precondition-not-met")

	form := ok(t, juliet.IQ("get", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+devices+"'/></pubsub>"))
	if !strings.Contains(form.String(), "open") || !strings.Contains(form.String(), "pubsub#access_model") {
		t.Fatalf("configuration form %s does not show the access model", form)
	}
	ok(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+devices+"'>"+
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>"+
		field("pubsub#access_model", "whitelist")+"</x></configure></pubsub>"))
	ok(t, juliet.IQ("set", "", publish(devices, "current", list, field("pubsub#access_model", "whitelist"))))

	// Options the service cannot honour create no node.
	refused(t, juliet.IQ("set", "", publish("urn:example:new", "", "<x xmlns='urn:example:new'/>", field("pubsub#access_model", "authorize"))), "conflict", "precondition-not-met")
	refused(t, juliet.IQ("get", "", items("urn:example:new", "")), "item-not-found", "")
}

func TestAccessModels(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo := online(t, s, "romeo", "orchard")
	for node, access := range map[string]string{"urn:example:open": "open", "urn:example:presence": "presence", "urn:example:whitelist": "whitelist"} {
		ok(t, juliet.IQ("set", "", publish(node, "1", "<x xmlns='"+node+"'/>", field("pubsub#access_model", access))))
	}

	ok(t, romeo.IQ("get", "juliet@localhost", items("urn:example:open", "")))
	refused(t, romeo.IQ("get", "juliet@localhost", items("urn:example:presence", "")), "not-authorized", "presence-subscription-required")
	// disco#items lists the nodes the asker may read (XEP-0060 §5.2).
	discoNodes := func(c *xmpptest.Client) string {
		res := ok(t, c.IQ("get", "juliet@localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>"))
		var nodes []string
		for _, it := range res.FirstChildElement().ChildElements() {
			nodes = append(nodes, it.Attr("node"))
		}
		return strings.Join(nodes, " ")
	}
	if got := discoNodes(juliet); got != "urn:example:open urn:example:presence urn:example:whitelist" {
		t.Fatalf("juliet's disco#items show %q, want all three nodes", got)
	}
	if got := discoNodes(romeo); got != "urn:example:open" {
		t.Fatalf("romeo sees the nodes %q, want only the open one", got)
	}
	refused(t, romeo.IQ("get", "juliet@localhost", items("urn:example:whitelist", "")), "not-allowed", "closed-node")

	subscribe(t, romeo, juliet)
	ok(t, romeo.IQ("get", "juliet@localhost", items("urn:example:presence", "")))
	refused(t, romeo.IQ("get", "juliet@localhost", items("urn:example:whitelist", "")), "not-allowed", "closed-node")

	// Nobody changes another account's nodes.
	refused(t, romeo.IQ("set", "juliet@localhost", publish("urn:example:open", "2", "<x xmlns='urn:example:open'/>", "")), "forbidden", "")
	refused(t, romeo.IQ("set", "juliet@localhost", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='urn:example:open'/></pubsub>"), "forbidden", "")
	ok(t, romeo.IQ("get", "juliet@localhost", items("urn:example:open", "")))
}

// subscribe makes from subscribed to to's presence, both online.
func subscribe(t *testing.T, from, to *xmpptest.Client) {
	t.Helper()
	from.Send("<presence to='" + bare(to.JID) + "' type='subscribe'/>")
	if p := to.NextNamed("presence"); p.Attr("type") != "subscribe" {
		t.Fatalf("got %s, want a subscription request", p)
	}
	to.Send("<presence to='" + bare(from.JID) + "' type='subscribed'/>")
	if p := from.NextNamed("presence"); p.Attr("type") != "subscribed" {
		t.Fatalf("got %s, want subscribed", p)
	}
	from.ExpectPresenceFrom(to.JID)
}

func bare(full string) string { return strings.SplitN(full, "/", 2)[0] }

func TestBadRequests(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	for _, tc := range []struct{ body, condition, app string }{
		{"<pubsub xmlns='" + nsPubsub + "'/>", "bad-request", ""},
		{"<pubsub xmlns='" + nsPubsub + "'><publish/></pubsub>", "bad-request", "nodeid-required"},
		{"<pubsub xmlns='" + nsPubsub + "'><publish node='n'/></pubsub>", "bad-request", "item-required"},
		{"<pubsub xmlns='" + nsPubsub + "'><publish node='n'><item/></publish></pubsub>", "bad-request", "payload-required"},
		{"<pubsub xmlns='" + nsPubsub + "'><publish node='n'><item><a xmlns='x'/><b xmlns='x'/></item></publish></pubsub>", "bad-request", "invalid-payload"},
		{"<pubsub xmlns='" + nsPubsub + "'><publish node='n'><item><a xmlns='x'/></item><item><a xmlns='x'/></item></publish></pubsub>", "bad-request", "invalid-payload"},
		{"<pubsub xmlns='" + nsPubsub + "'><publish node='" + strings.Repeat("n", 1025) + "'><item><a xmlns='x'/></item></publish></pubsub>", "not-acceptable", ""},
		{"<pubsub xmlns='" + nsPubsub + "'><publish node='n'><item><a xmlns='x'/></item></publish><publish-options/></pubsub>", "bad-request", ""},
		{"<pubsub xmlns='" + nsPubsub + "'><subscribe node='n' jid='juliet@localhost'/></pubsub>", "item-not-found", ""},
		{"<pubsub xmlns='" + nsPubsub + "'><retract node='none'><item id='1'/></retract></pubsub>", "item-not-found", ""},
		{"<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='none'/></pubsub>", "item-not-found", ""},
		{"<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='none'><x xmlns='jabber:x:data' type='submit'/></configure></pubsub>", "item-not-found", ""},
	} {
		refused(t, juliet.IQ("set", "", tc.body), tc.condition, tc.app)
	}
	ok(t, juliet.IQ("set", "", publish("n", "1", "<a xmlns='x'/>", "")))
	refused(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='n'>"+
		"<x xmlns='jabber:x:data' type='submit'>"+field("pubsub#max_items", "100000")+"</x></configure></pubsub>"), "not-acceptable", "")
	refused(t, juliet.IQ("set", "", "<pubsub xmlns='"+nsPubsub+"'><create node='n'/></pubsub>"), "conflict", "")
	refused(t, juliet.IQ("get", "", items("n", " max_items='none'")), "bad-request", "")
	juliet.Ping() // the stream still works
}

// expectEvent reads a headline from juliet and returns its event's child.
func expectEvent(t *testing.T, c *xmpptest.Client) *xmlstream.Element {
	t.Helper()
	msg := c.NextNamed("message")
	ev := msg.Child(nsEvent, "event")
	if msg.Attr("from") != "juliet@localhost" || msg.Attr("type") != "headline" || ev == nil {
		t.Fatalf("got %s, want a PEP event from juliet", msg)
	}
	return ev.FirstChildElement()
}

func TestNotifications(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo := online(t, s, "romeo", "orchard")
	subscribe(t, romeo, juliet)
	subscribe(t, juliet, romeo)
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	romeo.Ping() // a session that asked for nothing gets nothing

	// Romeo announces that he wants moods: the server asks him what his
	// caps stand for, then sends him juliet's last mood.
	presence, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", mood+"+notify")
	romeo.Send(presence)
	romeo.ExpectPresenceFrom(romeo.JID)
	juliet.ExpectPresenceFrom(romeo.JID)
	xmpptest.AnswerDisco(t, romeo, info)
	if its := expectEvent(t, romeo); its.Attr("node") != mood || its.Child(nsEvent, "item").Attr("id") != "1" {
		t.Fatalf("got %s, want juliet's last mood", its)
	}

	ok(t, juliet.IQ("set", "", publish(mood, "2", moodPayload("sad"), "")))
	if its := expectEvent(t, romeo); its.Child(nsEvent, "item").Attr("id") != "2" || !strings.Contains(its.String(), "<sad") {
		t.Fatalf("got %s, want the new mood", its)
	}

	// Another client with the same caps is not asked again: the answer was
	// verified and kept.
	romeo2 := xmpptest.Login(t, s, "romeo", "secret", "tower")
	romeo2.Send(presence)
	for {
		el := romeo2.Next()
		if el.Name.Local == "iq" {
			t.Fatalf("got %s, want no second disco#info query for known caps", el)
		}
		if el.Name.Local == "message" {
			if el.Child(nsEvent, "event").FirstChildElement().Child(nsEvent, "item").Attr("id") != "2" {
				t.Fatalf("got %s, want the last mood", el)
			}
			break
		}
	}

	// A retraction with notify, and a deletion, reach both sessions.
	romeo.ExpectPresenceFrom(romeo2.JID)
	juliet.ExpectPresenceFrom(romeo2.JID)
	ok(t, juliet.IQ("set", "", "<pubsub xmlns='"+nsPubsub+"'><retract node='"+mood+"' notify='true'><item id='2'/></retract></pubsub>"))
	for _, c := range []*xmpptest.Client{romeo, romeo2} {
		if its := expectEvent(t, c); its.Child(nsEvent, "retract").Attr("id") != "2" {
			t.Fatalf("got %s, want the retraction", its)
		}
	}
	ok(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='"+mood+"'/></pubsub>"))
	for _, c := range []*xmpptest.Client{romeo, romeo2} {
		if d := expectEvent(t, c); d.Name.Local != "delete" || d.Attr("node") != mood {
			t.Fatalf("got %s, want the deletion", d)
		}
	}

	// Whitelist nodes, such as bookmarks, notify the owner's own sessions
	// only.
	ok(t, juliet.IQ("set", "", publish(mood, "3", moodPayload("secret"), field("pubsub#access_model", "whitelist"))))
	romeo.Ping()
	romeo2.Ping()
}

func TestDiscoShowsPEP(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	res := ok(t, juliet.IQ("get", "juliet@localhost", "<query xmlns='http://jabber.org/protocol/disco#info'/>")).String()
	for _, want := range []string{"category='pubsub'", "type='pep'", "pubsub#publish-options", "pubsub#publish", "pubsub#persistent-items"} {
		if !strings.Contains(res, want) {
			t.Fatalf("disco#info %s lacks %s", res, want)
		}
	}
}

// An account keeps at most pep.max_nodes nodes and pep.max_bytes of items;
// a publish beyond either changes nothing.
func TestAccountLimits(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.PEP.MaxNodes, c.PEP.MaxBytes = 3, 4096 })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet := online(t, s, "juliet", "balcony")
	for i := range 3 {
		ok(t, juliet.IQ("set", "", publish("n"+strconv.Itoa(i), "1", "<x xmlns='n'/>", "")))
	}
	refused(t, juliet.IQ("set", "", publish("n3", "1", "<x xmlns='n'/>", "")), "policy-violation", "")
	refused(t, juliet.IQ("get", "", items("n3", "")), "item-not-found", "")

	big := "<x xmlns='n'>" + strings.Repeat("a", 3000) + "</x>"
	ok(t, juliet.IQ("set", "", publish("n0", "1", big, "")))
	refused(t, juliet.IQ("set", "", publish("n1", "1", big, "")), "policy-violation", "")
	if got := ok(t, juliet.IQ("get", "", items("n1", ""))).String(); strings.Contains(got, "aaa") {
		t.Fatalf("the refused item was stored: %s", got)
	}
}

// moodWatcher logs romeo in with capabilities that ask for mood
// notifications (XEP-0163 §4.3.2), the server's disco#info about them
// answered; presence is the presence that announces them.
func moodWatcher(t *testing.T, s *xmpptest.Server) (romeo *xmpptest.Client, presence string) {
	t.Helper()
	romeo = xmpptest.Login(t, s, "romeo", "secret", "orchard")
	presence, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", mood+"+notify")
	romeo.Send(presence)
	romeo.ExpectPresenceFrom(romeo.JID)
	xmpptest.AnswerDisco(t, romeo, info)
	romeo.Ping()
	return romeo, presence
}

// TestLastItemToNewSubscriber: romeo, online and asking for moods, gets
// juliet's last mood as soon as she approves his subscription (XEP-0163
// §4.3.4), before anything she sends after.
func TestLastItemToNewSubscriber(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	romeo, _ := moodWatcher(t, s)

	subscribe(t, romeo, juliet)
	juliet.Send("<message to='romeo@localhost/orchard' type='chat'><body>after</body></message>")
	m := romeo.NextNamed("message")
	items := m.Child(nsEvent, "event")
	if m.Attr("from") != "juliet@localhost" || items == nil {
		t.Fatalf("romeo got %s, want juliet's last mood first", m)
	}
}

// TestOnSubLastItem: a node whose send_last_published_item is on_sub
// gives its last item to a new subscriber when its subscription is
// approved (XEP-0060 §16.4.3), and not to a session that merely comes
// online.
func TestOnSubLastItem(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), field("pubsub#send_last_published_item", "on_sub"))))
	romeo, presence := moodWatcher(t, s)

	subscribe(t, romeo, juliet)
	juliet.Send("<message to='romeo@localhost/orchard' type='chat'><body>after</body></message>")
	m := romeo.NextNamed("message")
	if its := m.Child(nsEvent, "event"); m.Attr("from") != "juliet@localhost" || its == nil || !strings.Contains(its.String(), "<happy") {
		t.Fatalf("romeo got %s, want juliet's last mood first", m)
	}

	// Coming online is no new subscription.
	romeo2 := xmpptest.Login(t, s, "romeo", "secret", "tower")
	romeo2.Send(presence)
	romeo2.Send("<iq type='get' id='barrier' to='" + xmpptest.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	for el := romeo2.Next(); el.Name.Local != "iq" || el.Attr("id") != "barrier"; el = romeo2.Next() {
		if el.Name.Local == "message" {
			t.Fatalf("romeo's new session got %s, want no on_sub item", el)
		}
	}
}

// TestCreateAndConfigure: the configuration form beside a create
// (XEP-0060 §8.1.3) is applied, with or without its FORM_TYPE, as a
// configure's is; a form of another type is refused and creates
// nothing, so that a client never gets a node less private than it
// asked for.
func TestCreateAndConfigure(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	create := func(node, formType string) *xmlstream.Element {
		if formType != "" {
			formType = "<field var='FORM_TYPE' type='hidden'><value>" + formType + "</value></field>"
		}
		return juliet.IQ("set", "", "<pubsub xmlns='"+nsPubsub+"'><create node='"+node+"'/><configure>"+
			"<x xmlns='jabber:x:data' type='submit'>"+formType+field("pubsub#access_model", "whitelist")+"</x></configure></pubsub>")
	}
	access := func(node string) string {
		res := ok(t, juliet.IQ("get", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+node+"'/></pubsub>"))
		x := res.FirstChildElement().FirstChildElement().FirstChildElement()
		for _, f := range x.ChildElements() {
			if f.Attr("var") == "pubsub#access_model" {
				return f.FirstChildElement().Text()
			}
		}
		t.Fatalf("no access model in %s", res)
		return ""
	}
	ok(t, create("urn:example:typed", "http://jabber.org/protocol/pubsub#node_config"))
	ok(t, create("urn:example:untyped", ""))
	for _, node := range []string{"urn:example:typed", "urn:example:untyped"} {
		if got := access(node); got != "whitelist" {
			t.Errorf("%s was created with access %q, want whitelist", node, got)
		}
	}
	refused(t, create("urn:example:other", "urn:example:form"), "bad-request", "")
	refused(t, juliet.IQ("get", "", items("urn:example:other", "")), "item-not-found", "")
}

// The configuration form a client is sent (XEP-0060 §8.2) can be shown
// as a form (XEP-0004 §3.3): every field has a type and a label, a
// list-single or list-multi field offers its choices as <option/>s
// among which its value is, and the form sent back unchanged, as a
// submit form, is accepted and changes nothing.
func TestConfigureFormOptions(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	const get = "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='" + mood + "'/></pubsub>"
	formOf := func(res *xmlstream.Element) *xmlstream.Element {
		x := res.Child("http://jabber.org/protocol/pubsub#owner", "pubsub").Child("http://jabber.org/protocol/pubsub#owner", "configure").Child("jabber:x:data", "x")
		if x == nil || x.Attr("type") != "form" {
			t.Fatalf("got %s, want a configuration form", res)
		}
		return x
	}
	x := formOf(ok(t, juliet.IQ("get", "", get)))
	want := map[string]string{
		"pubsub#access_model":             "open presence roster whitelist",
		"pubsub#send_last_published_item": "never on_sub on_sub_and_presence",
	}
	for _, f := range x.ChildElements() {
		name, typ := f.Attr("var"), f.Attr("type")
		if name == "FORM_TYPE" {
			if typ != "hidden" || f.Child("jabber:x:data", "value").Text() != "http://jabber.org/protocol/pubsub#node_config" {
				t.Errorf("FORM_TYPE is %s", f)
			}
			continue
		}
		if typ == "" || f.Attr("label") == "" {
			t.Errorf("field %s has no type or no label", f)
		}
		var options []string
		for _, o := range f.ChildElements() {
			if o.Name.Local == "option" {
				options = append(options, o.Child("jabber:x:data", "value").Text())
			}
		}
		if typ != "list-single" && typ != "list-multi" {
			if options != nil {
				t.Errorf("field %s of type %s has options", name, typ)
			}
			continue
		}
		for _, v := range f.ChildElements() {
			if value := v.Text(); v.Name.Local == "value" && !slices.Contains(options, value) {
				t.Errorf("field %s offers %v, not its value %q", name, options, value)
			}
		}
		if w, listed := want[name]; listed && strings.Join(options, " ") != w {
			t.Errorf("field %s offers %v, want %s", name, options, w)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("the form has no list field %s", name)
	}

	x.SetAttr("type", "submit")
	ok(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+mood+"'>"+x.String()+"</configure></pubsub>"))
	if again := formOf(ok(t, juliet.IQ("get", "", get))); again.String() != strings.Replace(x.String(), "type='submit'", "type='form'", 1) {
		t.Fatalf("after the form came back unchanged it is %s, want %s", again, x)
	}
}

// disco#info on a node of an account (XEP-0060 §5.3, §5.4) tells a
// leaf node and its meta-data to whoever may read it; a node that does
// not exist, or that the asker may not read, is item-not-found, as it
// is missing from the disco#items the asker gets.
func TestNodeDiscoInfo(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo := online(t, s, "romeo", "orchard")
	for node, access := range map[string]string{"urn:example:open": "open", "urn:example:presence": "presence", "urn:example:whitelist": "whitelist"} {
		ok(t, juliet.IQ("set", "", publish(node, "1", "<x xmlns='"+node+"'/>", field("pubsub#access_model", access)+field("pubsub#title", "T"))))
	}
	info := func(c *xmpptest.Client, node string) *xmlstream.Element {
		return c.IQ("get", "juliet@localhost", "<query xmlns='http://jabber.org/protocol/disco#info' node='"+node+"'/>")
	}
	shown := func(c *xmpptest.Client, node string) {
		t.Helper()
		q := ok(t, info(c, node)).Child("http://jabber.org/protocol/disco#info", "query")
		if q == nil || q.Attr("node") != node {
			t.Fatalf("disco#info of %s is %s", node, q)
		}
		id := q.Child("http://jabber.org/protocol/disco#info", "identity")
		if id == nil || id.Attr("category") != "pubsub" || id.Attr("type") != "leaf" {
			t.Fatalf("disco#info of %s is %s, want the identity pubsub/leaf", node, q)
		}
		x := q.Child("jabber:x:data", "x")
		if x == nil || x.Attr("type") != "result" {
			t.Fatalf("disco#info of %s is %s, want a meta-data form", node, q)
		}
		f := dataform.Parse(x)
		if f.FormType() != "http://jabber.org/protocol/pubsub#meta-data" {
			t.Fatalf("the form of %s is %s, want pubsub#meta-data", node, x)
		}
		if fd, _ := f.Field("pubsub#title"); len(fd.Values) != 1 || fd.Values[0] != "T" {
			t.Errorf("the meta-data of %s have the title %v, want T", node, fd.Values)
		}
		if fd, _ := f.Field("pubsub#owner"); len(fd.Values) != 1 || fd.Values[0] != "juliet@localhost" {
			t.Errorf("the meta-data of %s have the owner %v, want juliet@localhost", node, fd.Values)
		}
	}
	for _, node := range []string{"urn:example:open", "urn:example:presence", "urn:example:whitelist"} {
		shown(juliet, node)
	}
	refused(t, info(juliet, "urn:example:none"), "item-not-found", "")

	shown(romeo, "urn:example:open")
	refused(t, info(romeo, "urn:example:presence"), "item-not-found", "")
	refused(t, info(romeo, "urn:example:whitelist"), "item-not-found", "")
	subscribe(t, romeo, juliet)
	shown(romeo, "urn:example:presence")
	refused(t, info(romeo, "urn:example:whitelist"), "item-not-found", "")
}

// configureGet returns the configuration form of juliet's node (XEP-0060
// §8.2.1).
func configureGet(t *testing.T, c *xmpptest.Client, node string) *xmlstream.Element {
	t.Helper()
	const owner = "http://jabber.org/protocol/pubsub#owner"
	res := ok(t, c.IQ("get", "", "<pubsub xmlns='"+owner+"'><configure node='"+node+"'/></pubsub>"))
	x := res.Child(owner, "pubsub").Child(owner, "configure").Child("jabber:x:data", "x")
	if x == nil {
		t.Fatalf("got %s, want a configuration form", res)
	}
	return x
}

// TestLoweredMaxItems: a node made for more items than pep.max_items
// now allows (the operator lowered it) keeps pep.max_items at its next
// publish; its form
// says so, and sent back with one field changed, as clients do, it is
// accepted (XEP-0060 §8.2.4) rather than refused for the old number.
// Publish options asking for 'max' still match it.
func TestLoweredMaxItems(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.PEP.MaxItems = 10 })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet := online(t, s, "juliet", "balcony")
	const list = "urn:example:list"
	for i := range 10 {
		ok(t, juliet.IQ("set", "", publish(list, strconv.Itoa(i), "<x xmlns='"+list+"'/>", field("pubsub#max_items", "10"))))
	}

	s.Config.PEP.MaxItems = 5
	s = xmpptest.Restart(t, s)
	juliet = online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(list, "new", "<x xmlns='"+list+"'/>", field("pubsub#max_items", "max"))))
	// A publish keeps the newest five, as a retrieval by id shows.
	byID := "<pubsub xmlns='" + nsPubsub + "'><items node='" + list + "'><item id='0'/><item id='5'/><item id='6'/></items></pubsub>"
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", byID))); strings.Join(ids, ",") != "6" {
		t.Fatalf("items 0, 5 and 6 asked by id gave %v, want only [6]: the node keeps the newest 5", ids)
	}

	x := configureGet(t, juliet, list)
	form := dataform.Parse(x)
	if f, _ := form.Field("pubsub#max_items"); len(f.Values) != 1 || f.Values[0] != "5" {
		t.Fatalf("the form %s says max_items %v, want 5, the most the node keeps", x, f.Values)
	}
	form.Type = "submit"
	for i, f := range form.Fields {
		if f.Var == "pubsub#access_model" {
			form.Fields[i].Values = []string{"whitelist"}
		}
	}
	ok(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+list+"'>"+form.Element().String()+"</configure></pubsub>"))
	ok(t, juliet.IQ("set", "", publish(list, "3", "<x xmlns='"+list+"'/>", field("pubsub#access_model", "whitelist")+field("pubsub#max_items", "max"))))
}

// TestUntypedPublishOptions: XEP-0060 §7.1.5 only recommends the
// FORM_TYPE of publish options, so a form without one holds
// preconditions all the same: not met by a node configured otherwise,
// or by a field the service does not know, and applied to the node a
// publish creates.
func TestUntypedPublishOptions(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	untyped := func(node, id, fields string) string {
		return "<pubsub xmlns='" + nsPubsub + "'><publish node='" + node + "'><item id='" + id + "'><x xmlns='" + node + "'/></item></publish>" +
			"<publish-options><x xmlns='jabber:x:data' type='submit'>" + fields + "</x></publish-options></pubsub>"
	}
	const node = "urn:example:untyped"
	ok(t, juliet.IQ("set", "", untyped(node, "1", field("pubsub#access_model", "whitelist"))))
	if f, _ := dataform.Parse(configureGet(t, juliet, node)).Field("pubsub#access_model"); len(f.Values) != 1 || f.Values[0] != "whitelist" {
		t.Fatalf("the node was created with access %v, want whitelist", f.Values)
	}
	ok(t, juliet.IQ("set", "", untyped(node, "2", field("pubsub#access_model", "whitelist"))))
	refused(t, juliet.IQ("set", "", untyped(node, "3", field("pubsub#access_model", "open"))), "conflict", "precondition-not-met")
	refused(t, juliet.IQ("set", "", untyped(node, "3", field("pubsub#no_such_option", "1"))), "conflict", "precondition-not-met")
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(node, "")))); strings.Join(ids, ",") != "2" {
		t.Fatalf("items %v, want only [2]: refused publishes store nothing", ids)
	}

	// A form of another type is no publish options.
	other := "<field var='FORM_TYPE' type='hidden'><value>urn:example:form</value></field>" + field("pubsub#access_model", "whitelist")
	refused(t, juliet.IQ("set", "", untyped(node, "4", other)), "bad-request", "")
}

// eventsUntilBarrier pings c and returns the PEP events it got before
// the answer, in order.
func eventsUntilBarrier(t *testing.T, c *xmpptest.Client) []*xmlstream.Element {
	t.Helper()
	c.Send("<iq type='get' id='barrier' to='" + xmpptest.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	var events []*xmlstream.Element
	for el := c.Next(); el.Name.Local != "iq" || el.Attr("id") != "barrier"; el = c.Next() {
		if ev := el.Child(nsEvent, "event"); el.Name.Local == "message" && ev != nil {
			events = append(events, ev.FirstChildElement())
		}
	}
	return events
}

// TestRetractNotifications: a retraction is told to subscribers when the
// request says notify='true' (XEP-0060 §7.2.2.1) or the node's
// pubsub#notify_retract is true, as it is by default; only a node
// configured not to, retracted without notify, keeps it quiet.
func TestRetractNotifications(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo, _ := moodWatcher(t, s)
	subscribe(t, romeo, juliet)
	retract := func(id, notify string) {
		t.Helper()
		ok(t, juliet.IQ("set", "", "<pubsub xmlns='"+nsPubsub+"'><retract node='"+mood+"'"+notify+"><item id='"+id+"'/></retract></pubsub>"))
	}
	retracted := func(id string) {
		t.Helper()
		evs := eventsUntilBarrier(t, romeo)
		if len(evs) != 1 || evs[0].Child(nsEvent, "retract") == nil || evs[0].Child(nsEvent, "retract").Attr("id") != id {
			t.Fatalf("romeo got the events %v, want the retraction of %s", evs, id)
		}
	}

	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	eventsUntilBarrier(t, romeo)
	retract("1", "")
	retracted("1")

	ok(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+mood+"'>"+
		"<x xmlns='jabber:x:data' type='submit'>"+field("pubsub#notify_retract", "false")+"</x></configure></pubsub>"))
	ok(t, juliet.IQ("set", "", publish(mood, "2", moodPayload("sad"), field("pubsub#notify_retract", "false"))))
	eventsUntilBarrier(t, romeo)
	retract("2", "")
	if evs := eventsUntilBarrier(t, romeo); len(evs) != 0 {
		t.Fatalf("romeo got %v, want no notification from a node with notify_retract false", evs)
	}
	ok(t, juliet.IQ("set", "", publish(mood, "3", moodPayload("sad"), "")))
	eventsUntilBarrier(t, romeo)
	retract("3", " notify='true'")
	retracted("3")
}

// TestPurgeNotifications: a purge is told to subscribers with one
// <purge/> (XEP-0060 §8.5.2) when the node notifies removed items, and
// not when its pubsub#notify_retract is false; a deletion is told
// whatever the node says (§8.4.2).
func TestPurgeNotifications(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo, _ := moodWatcher(t, s)
	subscribe(t, romeo, juliet)
	const owner = "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>"
	told := func(what string) {
		t.Helper()
		evs := eventsUntilBarrier(t, romeo)
		if len(evs) != 1 || evs[0].Name.Local != what || evs[0].Attr("node") != mood {
			t.Fatalf("romeo got the events %v, want one %s of %s", evs, what, mood)
		}
	}

	for _, id := range []string{"1", "2"} {
		ok(t, juliet.IQ("set", "", publish(mood, id, moodPayload("happy"), "")))
	}
	eventsUntilBarrier(t, romeo)
	ok(t, juliet.IQ("set", "", owner+"<purge node='"+mood+"'/></pubsub>"))
	told("purge")
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(mood, "")))); len(ids) != 0 {
		t.Fatalf("after the purge the node has the items %v", ids)
	}

	ok(t, juliet.IQ("set", "", owner+"<configure node='"+mood+"'><x xmlns='jabber:x:data' type='submit'>"+
		field("pubsub#notify_retract", "false")+"</x></configure></pubsub>"))
	ok(t, juliet.IQ("set", "", publish(mood, "3", moodPayload("sad"), "")))
	eventsUntilBarrier(t, romeo)
	ok(t, juliet.IQ("set", "", owner+"<purge node='"+mood+"'/></pubsub>"))
	if evs := eventsUntilBarrier(t, romeo); len(evs) != 0 {
		t.Fatalf("romeo got %v, want no purge notification from a node with notify_retract false", evs)
	}
	ok(t, juliet.IQ("set", "", owner+"<delete node='"+mood+"'/></pubsub>"))
	told("delete")
}

// TestLastItemDelayed: the last item sent to a new subscriber, or to a
// session that comes online, was published earlier and says when, with
// a <delay/> from the owner (XEP-0060 §6.1.7, XEP-0203), so that a
// client does not show a stale mood as news; a notification of a
// publish as it happens has none.
func TestLastItemDelayed(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	romeo, presence := moodWatcher(t, s)
	subscribe(t, romeo, juliet)
	nextMessage := func(c *xmpptest.Client) *xmlstream.Element {
		t.Helper()
		for {
			if el := c.Next(); el.Name.Local == "message" {
				return el
			}
		}
	}
	delayed := func(c *xmpptest.Client) {
		t.Helper()
		m := nextMessage(c)
		if m.Child(nsEvent, "event") == nil {
			t.Fatalf("got %s, want juliet's last mood", m)
		}
		d := m.Child("urn:xmpp:delay", "delay")
		if d == nil || d.Attr("from") != "juliet@localhost" {
			t.Fatalf("the last item %s has no <delay/> from juliet@localhost", m)
		}
		if _, err := time.Parse(time.RFC3339, d.Attr("stamp")); err != nil {
			t.Fatalf("the stamp of %s: %v", d, err)
		}
	}
	delayed(romeo)

	romeo2 := xmpptest.Login(t, s, "romeo", "secret", "tower")
	romeo2.Send(presence)
	delayed(romeo2)

	// Whatever last items romeo got meanwhile, the new mood comes as
	// news.
	ok(t, juliet.IQ("set", "", publish(mood, "2", moodPayload("sad"), "")))
	for {
		m := nextMessage(romeo)
		its := m.Child(nsEvent, "event").Child(nsEvent, "items")
		if its.Child(nsEvent, "item").Attr("id") != "2" {
			continue
		}
		if m.Child("urn:xmpp:delay", "delay") != nil {
			t.Fatalf("the notification of a publish %s has a <delay/>", m)
		}
		break
	}
}

// TestUnsupportedFeatures: a request the service does not offer is
// refused with feature-not-implemented and an <unsupported/> naming the
// XEP-0060 feature it needs (§10), as clients look it up: not the
// request's element name, and not nodeid-required for an owner's
// <default/>, which has no node (§8.3.1).
func TestUnsupportedFeatures(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	const owner = "http://jabber.org/protocol/pubsub#owner"
	for _, tc := range []struct{ typ, body, feature string }{
		{"get", "<pubsub xmlns='" + nsPubsub + "'><affiliations/></pubsub>", "retrieve-affiliations"},
		{"get", "<pubsub xmlns='" + nsPubsub + "'><options node='n' jid='juliet@localhost'/></pubsub>", "subscription-options"},
		{"get", "<pubsub xmlns='" + nsPubsub + "'><default/></pubsub>", "retrieve-default-sub"},
		{"get", "<pubsub xmlns='" + owner + "'><default/></pubsub>", "retrieve-default"},
		{"get", "<pubsub xmlns='" + owner + "'><subscriptions node='n'/></pubsub>", "manage-subscriptions"},
		{"get", "<pubsub xmlns='" + owner + "'><affiliations node='n'/></pubsub>", "modify-affiliations"},
	} {
		res := juliet.IQ(tc.typ, "", tc.body)
		refused(t, res, "feature-not-implemented", "unsupported")
		u := res.Child("jabber:client", "error").Child(nsErrors, "unsupported")
		if got := u.Attr("feature"); got != tc.feature {
			t.Errorf("%s: the unsupported feature is %q, want %q", tc.body, got, tc.feature)
		}
	}
}

// TestLastItemAfterUnavailable: a session that becomes unavailable and
// then available again on the same stream sends initial presence anew
// (RFC 6121 §4.2.2), so it gets the last item of the nodes it asks for
// again, as a new session would (XEP-0163 §4.3.3), though it announces
// the same capabilities as before.
func TestLastItemAfterUnavailable(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))

	tower := xmpptest.Login(t, s, "juliet", "secret", "tower")
	presence, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", mood+"+notify")
	tower.Send(presence)
	xmpptest.AnswerDisco(t, tower, info)
	for el := tower.Next(); el.Name.Local != "message"; el = tower.Next() {
	}

	tower.Send("<presence type='unavailable'/>")
	tower.Send(presence)
	var moods []*xmlstream.Element
	for _, m := range tower.MessagesBeforePing() {
		if ev := m.Child(nsEvent, "event"); ev != nil {
			moods = append(moods, ev)
		}
	}
	if len(moods) != 1 || !strings.Contains(moods[0].String(), "<happy") {
		t.Fatalf("after coming back the session got the events %v, want juliet's last mood", moods)
	}
}
