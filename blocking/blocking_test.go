package blocking_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsBlocking = "urn:xmpp:blocking"
	nsErrors   = "urn:xmpp:blocking:errors"
	nsStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// start returns a server with the accounts juliet, romeo and nurse at
// localhost and tybalt at example.test.
func start(t *testing.T) *xmpptest.Server {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	s.AddUser(t, "tybalt", xmpptest.OtherDomain, "secret")
	return s
}

// items returns the 'jid' of each <item/> of the blocking payload name in el.
func items(t *testing.T, el *xmlstream.Element, name string) []string {
	t.Helper()
	p := el.Child(nsBlocking, name)
	if p == nil {
		t.Fatalf("got %s, want a <%s/>", el, name)
	}
	var out []string
	for _, c := range p.ChildElements() {
		out = append(out, c.Attr("jid"))
	}
	return out
}

// blocklist asks for the blocklist and returns its items.
func blocklist(t *testing.T, c *xmpptest.Client) []string {
	t.Helper()
	c.Send("<iq type='get' id='bl'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	r := c.NextNamed("iq")
	if r.Attr("type") != "result" || r.Attr("id") != "bl" {
		t.Fatalf("%s: got %s, want the blocklist", c.JID, r)
	}
	return items(t, r, "blocklist")
}

// command sends a block or unblock command and expects its result.
func command(t *testing.T, c *xmpptest.Client, payload string) {
	t.Helper()
	c.Send("<iq type='set' id='cmd'>" + payload + "</iq>")
	if r := c.NextNamed("iq"); r.Attr("type") != "result" || r.Attr("id") != "cmd" {
		t.Fatalf("%s: %s got %s, want a result", c.JID, payload, r)
	}
}

// expectPush reads a push and returns its items.
func expectPush(t *testing.T, c *xmpptest.Client, name string) []string {
	t.Helper()
	p := c.NextNamed("iq")
	bare, _, _ := strings.Cut(c.JID, "/")
	if p.Attr("type") != "set" || p.Attr("to") != c.JID || p.Attr("from") != bare || p.Attr("id") == "" {
		t.Fatalf("%s: got %s, want a %s push", c.JID, p, name)
	}
	return items(t, p, name)
}

// expectBlocked checks XEP-0191 §3.3's error for a stanza to a blocked JID.
func expectBlocked(t *testing.T, el *xmlstream.Element) {
	t.Helper()
	e := xmpptest.ExpectError(t, el, "not-acceptable")
	if e.Attr("type") != "cancel" || e.Child(nsErrors, "blocked") == nil {
		t.Fatalf("got %s, want a cancel error with <blocked/>", el)
	}
}

// marker sends a message from one client to another and expects it to be
// the next thing the other reads: a barrier proving that nothing sent to
// it before arrived.
func marker(t *testing.T, from, to *xmpptest.Client) {
	t.Helper()
	from.Send("<message to='" + to.JID + "' type='chat'><body>marker</body></message>")
	xmpptest.ExpectBody(t, to.NextNamed("message"), from.JID, "marker")
}

// loginAt logs user in at domain, which xmpptest.Login cannot.
func loginAt(t *testing.T, s *xmpptest.Server, domain, user, resource string) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(domain)
	c.Features()
	c.StartTLS(domain, xmpptest.TLSConfig(domain, tls.VersionTLS13))
	c.Features()
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, user, "secret"); el.Name.Local != "success" {
		t.Fatalf("login of %s@%s failed: %s", user, domain, el)
	}
	c.Open(domain)
	c.Features()
	c.Bind(resource)
	return c
}

func TestDiscoFeature(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := juliet.NextNamed("iq").Child("http://jabber.org/protocol/disco#info", "query")
	for _, f := range q.ChildElements() {
		if f.Name.Local == "feature" && f.Attr("var") == nsBlocking {
			return
		}
	}
	t.Fatalf("disco#info does not announce %s: %s", nsBlocking, q)
}

// XEP-0191 §3.2-§3.5: the list, changes to it, pushes to the resources
// that asked for the list (and to no other), and the list kept across a
// restart of the server.
func TestCommandsAndPushes(t *testing.T) {
	s := start(t)
	balcony := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	chamber := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	phone := xmpptest.Login(t, s, "juliet", "secret", "phone") // never asks for the list
	if got := blocklist(t, balcony); len(got) != 0 {
		t.Fatalf("new blocklist: %v", got)
	}
	blocklist(t, chamber)

	command(t, balcony, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/><item jid='Tybalt@Example.test/sword'/><item jid='romeo@localhost'/></block>")
	want := []string{"romeo@localhost", "tybalt@example.test/sword"} // canonical, once each
	for _, c := range []*xmpptest.Client{balcony, chamber} {
		if got := expectPush(t, c, "block"); !slices.Equal(got, want) {
			t.Errorf("%s: block push %v, want %v", c.JID, got, want)
		}
	}
	phone.Ping() // the push did not reach it: the ping's answer comes first
	if got := blocklist(t, phone); !slices.Equal(got, want) {
		t.Fatalf("blocklist %v, want %v", got, want)
	}

	// Blocking what is blocked changes nothing and pushes nothing.
	command(t, chamber, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")
	chamber.Ping()
	balcony.Ping()

	command(t, chamber, "<unblock xmlns='urn:xmpp:blocking'><item jid='tybalt@example.test/sword'/></unblock>")
	for _, c := range []*xmpptest.Client{balcony, chamber, phone} {
		if got := expectPush(t, c, "unblock"); !slices.Equal(got, []string{"tybalt@example.test/sword"}) {
			t.Errorf("%s: unblock push %v", c.JID, got)
		}
	}

	// A session that ended is no longer interested; its successor with the
	// same resource did not ask.
	chamber.Conn.Close()
	command(t, balcony, "<block xmlns='urn:xmpp:blocking'><item jid='example.test'/></block>")
	expectPush(t, balcony, "block")
	expectPush(t, phone, "block")
	again := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	command(t, balcony, "<unblock xmlns='urn:xmpp:blocking'><item jid='example.test'/></unblock>")
	expectPush(t, balcony, "unblock")
	expectPush(t, phone, "unblock")
	again.Ping()

	// The list survives a restart.
	s = xmpptest.Restart(t, s)
	balcony = xmpptest.Login(t, s, "juliet", "secret", "balcony")
	chamber = xmpptest.Login(t, s, "juliet", "secret", "chamber")
	if got := blocklist(t, balcony); !slices.Equal(got, []string{"romeo@localhost"}) {
		t.Fatalf("blocklist after restart: %v", got)
	}
	blocklist(t, chamber)

	// Unblock all: an empty <unblock/> push.
	command(t, chamber, "<unblock xmlns='urn:xmpp:blocking'/>")
	for _, c := range []*xmpptest.Client{balcony, chamber} {
		if got := expectPush(t, c, "unblock"); len(got) != 0 {
			t.Errorf("%s: unblock-all push has items %v", c.JID, got)
		}
	}
	if got := blocklist(t, balcony); len(got) != 0 {
		t.Fatalf("blocklist after unblocking all: %v", got)
	}
}

// XEP-0191 §3.3: once juliet blocks romeo, nothing passes between them;
// romeo sees her go offline; unblocking restores delivery.
func TestBlockingBothWays(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	// Her initial presence is handled to the end (stored subscription
	// requests included) before romeo asks, or his request could come
	// twice: live, and again as a stored one (RFC 6121 §3.1.3 allows it).
	juliet.Ping()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Online()
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	nurse.Online()

	// romeo is subscribed to juliet's presence, so he sees her go offline.
	subscribeTo(t, romeo, juliet)
	romeo.Send("<presence to='juliet@localhost'/>") // directed presence arrives before the block
	juliet.ExpectPresenceFrom(romeo.JID)

	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")
	if p := romeo.ExpectPresenceFrom(juliet.JID); p.Attr("type") != "unavailable" {
		t.Fatalf("romeo got %s, want juliet's unavailable presence", p)
	}

	// From romeo: messages bounce as if juliet were offline, IQs get
	// service-unavailable, presence vanishes; juliet sees none of it.
	romeo.Send("<message to='juliet@localhost/balcony' type='chat' id='m1'><body>Lady!</body></message>")
	xmpptest.ExpectError(t, romeo.NextNamed("message"), "service-unavailable")
	romeo.Send("<message to='juliet@localhost' type='chat' id='m2'><body>Lady?</body></message>")
	xmpptest.ExpectError(t, romeo.NextNamed("message"), "service-unavailable")
	romeo.Send("<iq to='juliet@localhost/balcony' type='get' id='v'><query xmlns='jabber:iq:version'/></iq>")
	xmpptest.ExpectError(t, romeo.NextNamed("iq"), "service-unavailable")
	romeo.Send("<iq to='juliet@localhost' type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
	xmpptest.ExpectError(t, romeo.NextNamed("iq"), "service-unavailable")
	romeo.Send("<presence to='juliet@localhost'><status>below</status></presence>")
	romeo.Ping()
	marker(t, nurse, juliet)

	// From juliet: refused with not-acceptable and <blocked/>, romeo sees
	// nothing.
	juliet.Send("<message to='romeo@localhost' type='chat' id='m3'><body>Romeo?</body></message>")
	r := juliet.NextNamed("message")
	expectBlocked(t, r)
	if r.Attr("id") != "m3" || r.Attr("from") != "romeo@localhost" || r.Attr("to") != juliet.JID {
		t.Errorf("error reply addressed wrongly: %s", r)
	}
	juliet.Send("<iq to='romeo@localhost/orchard' type='get' id='v'><query xmlns='jabber:iq:version'/></iq>")
	expectBlocked(t, juliet.NextNamed("iq"))
	juliet.Send("<presence to='romeo@localhost/orchard'><status>directed</status></presence>")
	expectBlocked(t, juliet.NextNamed("presence"))
	// Presence the server sends in juliet's name (as the roster module's
	// broadcasts do) does not reach romeo either, but reaches the nurse.
	for _, to := range []string{"romeo@localhost", "nurse@localhost"} {
		p := xmlstream.NewElement("jabber:client", "presence", "from", juliet.JID, "to", to)
		s.Router().Route(context.Background(), p)
	}
	nurse.ExpectPresenceFrom(juliet.JID)
	marker(t, nurse, romeo)

	// Others are unaffected.
	juliet.Send("<message to='nurse@localhost' type='chat'><body>Nurse!</body></message>")
	xmpptest.ExpectBody(t, nurse.NextNamed("message"), juliet.JID, "Nurse!")

	command(t, juliet, "<unblock xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></unblock>")
	// §3.4: romeo, subscribed, sees her presence again.
	if p := romeo.ExpectPresenceFrom(juliet.JID); p.Attr("type") != "" {
		t.Fatalf("romeo got %s after the unblock, want her available presence", p)
	}
	romeo.Send("<message to='juliet@localhost/balcony' type='chat'><body>again</body></message>")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), romeo.JID, "again")
	juliet.Send("<message to='romeo@localhost/orchard' type='chat'><body>welcome back</body></message>")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), juliet.JID, "welcome back")
}

// XEP-0191 §6: a full JID blocks one resource, a domain everyone there.
func TestMatching(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	orchard := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	street := xmpptest.Login(t, s, "romeo", "secret", "street")
	tybalt := loginAt(t, s, xmpptest.OtherDomain, "tybalt", "sword")

	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost/orchard'/><item jid='example.test'/></block>")
	orchard.Send("<message to='" + juliet.JID + "' type='chat' id='x'><body>from the orchard</body></message>")
	xmpptest.ExpectError(t, orchard.NextNamed("message"), "service-unavailable")
	tybalt.Send("<message to='" + juliet.JID + "' type='chat' id='x'><body>draw</body></message>")
	xmpptest.ExpectError(t, tybalt.NextNamed("message"), "service-unavailable")
	marker(t, street, juliet) // the street resource is not blocked

	juliet.Send("<message to='tybalt@example.test/sword' type='chat' id='x'><body>no</body></message>")
	expectBlocked(t, juliet.NextNamed("message"))
	// The user's own server and account are never blocked, even when
	// their domain would match.
	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='localhost'/></block>")
	juliet.Ping()
	juliet.Send("<message to='juliet@localhost/balcony' type='chat'><body>note to self</body></message>")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), juliet.JID, "note to self")
	street.Send("<message to='" + juliet.JID + "' type='chat' id='x'><body>now?</body></message>")
	xmpptest.ExpectError(t, street.NextNamed("message"), "service-unavailable")
}

func TestBadInput(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	blocklist(t, juliet)
	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")
	expectPush(t, juliet, "block")

	tests := []struct{ name, send, condition string }{
		{"block without items", "<iq type='set' id='q'><block xmlns='urn:xmpp:blocking'/></iq>", "bad-request"},
		{"invalid JID", "<iq type='set' id='q'><block xmlns='urn:xmpp:blocking'><item jid='nurse@localhost'/><item jid='a@b@c'/></block></iq>", "jid-malformed"},
		{"empty localpart", "<iq type='set' id='q'><block xmlns='urn:xmpp:blocking'><item jid='@localhost'/></block></iq>", "jid-malformed"},
		{"item without jid", "<iq type='set' id='q'><block xmlns='urn:xmpp:blocking'><item/></block></iq>", "bad-request"},
		{"foreign child", "<iq type='set' id='q'><block xmlns='urn:xmpp:blocking'><thing xmlns='urn:example'/></block></iq>", "bad-request"},
		{"unblock invalid JID", "<iq type='set' id='q'><unblock xmlns='urn:xmpp:blocking'><item jid='romeo@localhost/'/></unblock></iq>", "jid-malformed"},
		{"JID too long to keep", "<iq type='set' id='q'><block xmlns='urn:xmpp:blocking'><item jid='" + longJID() + "'/></block></iq>", "policy-violation"},
		{"blocklist as a set", "<iq type='set' id='q'><blocklist xmlns='urn:xmpp:blocking'/></iq>", "service-unavailable"},
		{"someone else's blocklist", "<iq type='get' id='q' to='nurse@localhost'><blocklist xmlns='urn:xmpp:blocking'/></iq>", "service-unavailable"},
		{"block for someone else", "<iq type='set' id='q' to='nurse@localhost'><block xmlns='urn:xmpp:blocking'><item jid='nurse@localhost'/></block></iq>", "service-unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			juliet.Send(tt.send)
			r := juliet.NextNamed("iq")
			xmpptest.ExpectError(t, r, tt.condition)
			if r.Attr("id") != "q" {
				t.Errorf("error without the request's id: %s", r)
			}
		})
	}
	// A failed command changed nothing, not even its valid items.
	if got := blocklist(t, juliet); !slices.Equal(got, []string{"romeo@localhost"}) {
		t.Fatalf("blocklist after bad commands: %v", got)
	}
	// Unblocking what is not blocked succeeds, changes and pushes nothing.
	command(t, juliet, "<unblock xmlns='urn:xmpp:blocking'><item jid='nurse@localhost'/></unblock>")
	juliet.Ping()
	if got := blocklist(t, juliet); !slices.Equal(got, []string{"romeo@localhost"}) {
		t.Fatalf("blocklist after unblocking a stranger: %v", got)
	}
}

// longJID returns a valid full JID of about 3000 bytes that do not
// repeat, so that the database cannot compress it.
func longJID() string {
	sum := sha256.Sum256([]byte("long"))
	hexes := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			sum = sha256.Sum256(sum[:])
			b.WriteString(hex.EncodeToString(sum[:]))
		}
		return b.String()[:n]
	}
	var labels []string
	for range 15 {
		labels = append(labels, hexes(63))
	}
	return hexes(1000) + "@" + strings.Join(labels, ".") + "/" + hexes(1000)
}

// XEP-0191 §3.3: only contacts who could see the user's presence are told
// she went offline; a blocked stranger learns nothing.
func TestBlockingStrangerLearnsNothing(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	nurse.Online()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")

	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='nurse@localhost'/></block>")
	marker(t, romeo, nurse) // nurse's next stanza: no presence from juliet came first
	command(t, juliet, "<unblock xmlns='urn:xmpp:blocking'><item jid='nurse@localhost'/></unblock>")
	marker(t, romeo, nurse)
}

// TestRemoveWhileBlocked: juliet removes romeo, whom she blocked, from her
// roster. Her server's unsubscribe and unsubscribed still reach his
// account, so his roster no longer says he shares her presence (RFC 6121
// §2.5.2), which would outlast the block.
func TestRemoveWhileBlocked(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<presence to='juliet@localhost' type='subscribe'/>")
	juliet.Send("<presence to='romeo@localhost' type='subscribed'/>")
	juliet.Send("<presence to='romeo@localhost' type='subscribe'/>")
	romeo.Send("<presence to='juliet@localhost' type='subscribed'/>")
	romeo.Ping()
	juliet.Ping()

	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")
	juliet.Send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='romeo@localhost' subscription='remove'/></query></iq>")
	for el := juliet.Next(); el.Attr("id") != "rm"; el = juliet.Next() {
	}
	romeo.Send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
	var res *xmlstream.Element
	for res = romeo.Next(); res.Attr("id") != "r"; res = romeo.Next() {
	}
	for _, it := range res.Child("jabber:iq:roster", "query").ChildElements() {
		if it.Attr("jid") == "juliet@localhost" && it.Attr("subscription") != "none" {
			t.Fatalf("romeo's roster after juliet removed him: %s, want subscription none", it)
		}
	}
}

// TestBlockedRequestNotRedelivered: romeo asks for juliet's presence and
// she blocks him instead of answering, as clients offer for unwanted
// requests. His stored request is presence from a blocked JID: it is not
// handed again to the sessions that come online later (XEP-0191 §3.3).
func TestBlockedRequestNotRedelivered(t *testing.T) {
	s := start(t)
	balcony := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	balcony.Online()
	balcony.Ping()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<presence to='juliet@localhost' type='subscribe'/>")
	if p := balcony.NextNamed("presence"); p.Attr("type") != "subscribe" {
		t.Fatalf("juliet got %s, want romeo's subscription request", p)
	}
	command(t, balcony, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")

	chamber := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	// The ping is answered once the initial presence was handled, stored
	// requests included.
	chamber.Send("<presence/><iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	for el := chamber.Next(); el.Attr("id") != "barrier"; el = chamber.Next() {
		if el.Name.Local == "presence" && el.Attr("type") == "subscribe" {
			t.Fatalf("juliet's new session got the blocked contact's request: %s", el)
		}
	}
}

// TestBlockedOfflineMessageNotDelivered: romeo writes to juliet while she
// has no available resource, so the message waits offline; she blocks him
// before she comes online. It is a message from a blocked JID: not
// delivered (XEP-0191 §3.3), and romeo is not told when she came online.
func TestBlockedOfflineMessageNotDelivered(t *testing.T) {
	s := start(t)
	balcony := xmpptest.Login(t, s, "juliet", "secret", "balcony") // no presence yet
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	romeo.Send("<message to='juliet@localhost' type='chat' id='w'><body>wherefore</body></message>")
	romeo.Ping() // stored
	nurse.Send("<message to='juliet@localhost' type='chat'><body>from the nurse</body></message>")
	nurse.Ping()
	command(t, balcony, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")

	balcony.Send("<presence/>")
	got := balcony.MessagesBeforePing() // the stored messages come with the initial presence
	if len(got) != 1 {
		t.Fatalf("juliet got %d stored messages, want only the nurse's: %v", len(got), got)
	}
	xmpptest.ExpectBody(t, got[0], "nurse@localhost/kitchen", "from the nurse")
	romeo.Ping() // nothing, not even an error, came before
}

// TestBlockingDomainTellsSubscribers: tybalt is subscribed to juliet's
// presence; she blocks his whole domain. He is a contact at a blocked
// domain (XEP-0191 §6), so he sees her go offline (§3.3), and online
// again once she unblocks it (§3.4).
func TestBlockingDomainTellsSubscribers(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.Ping()
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	tybalt := loginAt(t, s, xmpptest.OtherDomain, "tybalt", "sword")
	tybalt.Send("<presence/>")
	tybalt.ExpectPresenceFrom("tybalt@example.test/sword")
	subscribeTo(t, tybalt, juliet)

	// The ping is answered once the command was handled to the end; the
	// nurse's message then comes after what the command sent tybalt.
	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='example.test'/></block>")
	juliet.Ping()
	nurse.Send("<message to='tybalt@example.test/sword' type='chat'><body>marker</body></message>")
	if p := tybalt.ExpectPresenceFrom(juliet.JID); p.Attr("type") != "unavailable" {
		t.Fatalf("tybalt got %s, want juliet's unavailable presence", p)
	}
	xmpptest.ExpectBody(t, tybalt.NextNamed("message"), nurse.JID, "marker")

	command(t, juliet, "<unblock xmlns='urn:xmpp:blocking'><item jid='example.test'/></unblock>")
	juliet.Ping()
	nurse.Send("<message to='tybalt@example.test/sword' type='chat'><body>marker</body></message>")
	if p := tybalt.ExpectPresenceFrom(juliet.JID); p.Attr("type") != "" {
		t.Fatalf("tybalt got %s after the unblock, want her available presence", p)
	}
	xmpptest.ExpectBody(t, tybalt.NextNamed("message"), nurse.JID, "marker")
}

// subscribeTo has from subscribe to the presence of to, online, who
// approves: from gets subscribed, then to's presence.
func subscribeTo(t *testing.T, from, to *xmpptest.Client) {
	t.Helper()
	fromBare, _, _ := strings.Cut(from.JID, "/")
	toBare, _, _ := strings.Cut(to.JID, "/")
	from.Send("<presence to='" + toBare + "' type='subscribe'/>")
	if p := to.NextNamed("presence"); p.Attr("type") != "subscribe" {
		t.Fatalf("%s got %s, want %s's subscription request", toBare, p, fromBare)
	}
	to.Send("<presence to='" + fromBare + "' type='subscribed'/>")
	if p := from.NextNamed("presence"); p.Attr("type") != "subscribed" {
		t.Fatalf("%s got %s, want subscribed", fromBare, p)
	}
	from.ExpectPresenceFrom(to.JID)
}

// TestReroutedFromBlockedDropped: romeo's message reached juliet's balcony,
// whose client had not acknowledged it (XEP-0198) when she blocked him
// from the garden and the balcony's session ended. The message is routed
// again from a blocked JID: it reaches neither the garden nor offline
// storage (XEP-0191 §3.3), and romeo, whose message the server accepted
// long before, gets no late error either, as for stored stanzas.
func TestReroutedFromBlockedDropped(t *testing.T) {
	logs := xmpptest.NewRecords()
	s := xmpptest.StartLogged(t, logs.Logger())
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	balcony := xmpptest.LoginSM(t, s, "juliet", "secret", "balcony")
	balcony.AutoAck = false
	balcony.Send("<presence/>")
	balcony.C.MessagesBeforePing()
	garden := xmpptest.Login(t, s, "juliet", "secret", "garden")
	garden.Send("<presence/>")
	garden.MessagesBeforePing()

	romeo.Send("<message to='juliet@localhost/balcony' type='chat' id='w'><body>wherefore</body></message>")
	el := balcony.C.Next()
	for el.Name.Local != "message" { // past the garden's presence
		el = balcony.C.Next()
	}
	xmpptest.ExpectBody(t, el, romeo.JID, "wherefore")
	command(t, garden, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")
	balcony.C.Send("</stream:stream>")
	logs.Wait(t, "c2s re-routed unacknowledged messages", "jid", "juliet@localhost/balcony")

	if got := romeo.MessagesBeforePing(); len(got) != 0 {
		t.Fatalf("romeo got %v for a message juliet's server accepted before", got)
	}
	if got := garden.MessagesBeforePing(); len(got) != 0 {
		t.Fatalf("the garden got %v from a blocked JID", got)
	}
	window := xmpptest.Login(t, s, "juliet", "secret", "window")
	window.Send("<presence/>")
	if got := window.MessagesBeforePing(); len(got) != 0 {
		t.Fatalf("juliet's next session got %v from a blocked JID", got)
	}
}

// TestBlockingTellsDirectedPresence: romeo and tybalt are not subscribed
// to juliet's presence, but she sent it to them as directed presence
// (RFC 6121 §4.6), to one of romeo's resources and to tybalt's bare JID.
// When she blocks them, each is told that she went offline, as her
// subscribers would be (XEP-0191 §3.3); the nurse, who got nothing, is
// told nothing.
func TestBlockingTellsDirectedPresence(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.Ping()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	tybalt := loginAt(t, s, xmpptest.OtherDomain, "tybalt", "sword")
	tybalt.Send("<presence/>")
	tybalt.ExpectPresenceFrom("tybalt@example.test/sword")

	juliet.Send("<presence to='romeo@localhost/orchard'><status>psst</status></presence>")
	romeo.ExpectPresenceFrom(juliet.JID)
	juliet.Send("<presence to='tybalt@example.test'><status>psst</status></presence>")
	tybalt.ExpectPresenceFrom(juliet.JID)

	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/><item jid='example.test'/><item jid='nurse@localhost'/></block>")
	juliet.Ping() // the command was handled to the end
	for _, c := range []*xmpptest.Client{romeo, tybalt} {
		if p := c.ExpectPresenceFrom(juliet.JID); p.Attr("type") != "unavailable" {
			t.Fatalf("%s got %s, want juliet's unavailable presence", c.JID, p)
		}
	}
	marker(t, romeo, nurse) // the nurse's next stanza: no presence from juliet came first
}

// TestBlockingDomainResourceTellsSubscriber: tybalt, logged in as sword
// and garden, is subscribed to juliet's presence. She blocks the
// domain/resource example.test/sword, which matches the sword resource of
// any user there (XEP-0191 §6, XEP-0016 §2.1): that resource sees her go
// offline (§3.3), the garden does not, and it sees her online again once
// she unblocks it (§3.4).
func TestBlockingDomainResourceTellsSubscriber(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.Ping()
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	sword := loginAt(t, s, xmpptest.OtherDomain, "tybalt", "sword")
	sword.Send("<presence/>")
	sword.ExpectPresenceFrom("tybalt@example.test/sword")
	subscribeTo(t, sword, juliet)
	garden := loginAt(t, s, xmpptest.OtherDomain, "tybalt", "garden")
	comesOnline(t, garden, sword, juliet)
	blockResource(t, juliet, "example.test/sword", sword)
	marker(t, nurse, garden)

	command(t, juliet, "<unblock xmlns='urn:xmpp:blocking'><item jid='example.test/sword'/></unblock>")
	juliet.Ping()
	if p := sword.ExpectPresenceFrom(juliet.JID); p.Attr("type") != "" {
		t.Fatalf("the sword got %s after the unblock, want her available presence", p)
	}
	marker(t, nurse, garden)
}

// TestBlockedGroupchatDroppedSilently: juliet blocked an occupant of a
// room on another server; a groupchat message from that occupant's room
// JID reaches her server. It is dropped, but not answered with an error:
// a room takes service-unavailable from an occupant's server to mean the
// occupant is gone, and removes her (XEP-0045 status code 333), so one
// message from the occupant she blocked would have her kicked. Here
// romeo stands in for the room, sending a groupchat message to her
// session himself.
func TestBlockedGroupchatDroppedSilently(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost/orchard'/></block>")

	romeo.Send("<message to='" + juliet.JID + "' type='groupchat' id='g'><body>spam</body></message>")
	if got := romeo.MessagesBeforePing(); len(got) != 0 {
		t.Fatalf("the blocked sender of a groupchat message got %v", got)
	}
	marker(t, nurse, juliet) // and juliet did not get it
}

// TestBlockDropsPendingRequest: romeo asks for juliet's presence, and
// she blocks him instead of answering. While he is blocked she cannot
// answer (a refusal to him would be refused too), so the block is her
// answer: his stored request is forgotten, as Prosody does, and does not
// come back once she unblocks him. The nurse's request stays.
func TestBlockDropsPendingRequest(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony") // no presence: requests are stored
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	romeo.Send("<presence to='juliet@localhost' type='subscribe'/>")
	romeo.Ping()
	nurse.Send("<presence to='juliet@localhost' type='subscribe'/>")
	nurse.Ping()

	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")
	command(t, juliet, "<unblock xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></unblock>")

	chamber := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	// The ping is answered once the initial presence was handled, stored
	// requests included.
	chamber.Send("<presence/><iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	var from []string
	for el := chamber.Next(); el.Attr("id") != "barrier"; el = chamber.Next() {
		if el.Name.Local == "presence" && el.Attr("type") == "subscribe" {
			from = append(from, el.Attr("from"))
		}
	}
	if !slices.Equal(from, []string{"nurse@localhost"}) {
		t.Fatalf("juliet's new session got subscription requests from %v, want only the nurse's", from)
	}
}

// TestDomainItemSparesSubdomains: a domain item blocks the domain itself
// and every JID at it, not the services at its subdomains (XEP-0191 §6,
// XEP-0016 §2.1, as Prosody and ejabberd match): juliet, who blocked
// example.test, still reaches the rooms at conference.example.test.
func TestDomainItemSparesSubdomains(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='example.test'/></block>")

	juliet.Send("<iq type='get' id='d' to='conference.example.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if r := juliet.NextNamed("iq"); r.Attr("type") != "result" || r.Attr("id") != "d" {
		t.Fatalf("got %s, want the rooms' disco#info", r)
	}
	for _, to := range []string{"example.test", "tybalt@example.test"} {
		juliet.Send("<iq type='get' id='d' to='" + to + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		expectBlocked(t, juliet.NextNamed("iq"))
	}
}

// TestBlockedResourceMissesBroadcasts: romeo, at the orchard and in the
// street, is subscribed to juliet's presence; she blocks the orchard
// alone (a full JID, XEP-0191 §6). The orchard is told she went offline
// (§3.3) and then gets none of her presence broadcasts, which go to
// romeo's bare JID, so that she stays offline to it; the street still
// sees her.
func TestBlockedResourceMissesBroadcasts(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.Ping()
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	orchard := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	orchard.Online()
	subscribeTo(t, orchard, juliet)
	street := xmpptest.Login(t, s, "romeo", "secret", "street")
	comesOnline(t, street, orchard, juliet)
	blockResource(t, juliet, "romeo@localhost/orchard", orchard)

	juliet.Send("<presence><show>away</show></presence>")
	juliet.ExpectPresenceFrom(juliet.JID)
	if p := street.ExpectPresenceFrom(juliet.JID); p.Child("jabber:client", "show") == nil {
		t.Fatalf("the street got %s, want juliet away", p)
	}
	juliet.Ping() // the broadcast was handled to the end
	marker(t, nurse, orchard)
}

// TestBlockingSpareContactWhoBlockedResource: romeo, subscribed to
// juliet's presence, blocked her balcony (a full JID). When she blocks
// him, the unavailable presence her server sends him in the balcony's
// name is a stanza from a JID he blocked: his server must not deliver
// it to him (XEP-0191 §3.3).
func TestBlockingSpareContactWhoBlockedResource(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.Ping()
	nurse := xmpptest.Login(t, s, "nurse", "secret", "kitchen")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Online()
	subscribeTo(t, romeo, juliet)
	command(t, romeo, "<block xmlns='urn:xmpp:blocking'><item jid='juliet@localhost/balcony'/></block>")

	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='romeo@localhost'/></block>")
	juliet.Ping() // the command was handled to the end
	marker(t, nurse, romeo)
}

// comesOnline has c, a new session of the account of other, which is
// subscribed to juliet's presence, send its initial presence, and waits
// until c has juliet's presence (after its own and other's: the answer
// to its probe) and other has c's.
func comesOnline(t *testing.T, c, other, juliet *xmpptest.Client) {
	t.Helper()
	c.Send("<presence/>")
	for p := c.NextNamed("presence"); p.Attr("from") != juliet.JID; p = c.NextNamed("presence") {
	}
	other.ExpectPresenceFrom(c.JID)
}

// blockResource has juliet block item, one resource of a contact, and
// checks that the blocked session got her unavailable presence (§3.3).
func blockResource(t *testing.T, juliet *xmpptest.Client, item string, blocked *xmpptest.Client) {
	t.Helper()
	command(t, juliet, "<block xmlns='urn:xmpp:blocking'><item jid='"+item+"'/></block>")
	juliet.Ping()
	if p := blocked.ExpectPresenceFrom(juliet.JID); p.Attr("type") != "unavailable" {
		t.Fatalf("%s got %s, want juliet's unavailable presence", blocked.JID, p)
	}
}
