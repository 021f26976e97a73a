package roster_test

import (
	"fmt"
	"strconv"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/roster"
	"xmppd/stanza"
)

// Pushes go only to resources that requested the roster (RFC 6121 §2.1.6).
func TestPushesOnlyToInterested(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	quiet := xmpptest.Login(t, s, "juliet", "secret", "quiet") // never asks for the roster
	juliet.Send("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='nurse@localhost' name='Nurse'><group>House</group></item></query></iq>")
	it := expectPush(juliet, "nurse@localhost", "none", "")
	if it.Attr("name") != "Nurse" || it.Child(nsRoster, "group").Text() != "House" {
		t.Fatalf("push %s lacks name or group", it)
	}
	if res := juliet.NextNamed("iq"); res.Attr("type") != "result" {
		t.Fatalf("roster set: %s", res)
	}
	expectNothing(quiet)
	q := getRoster(quiet, "")
	if len(q.ChildElements()) != 1 {
		t.Fatalf("roster: %s", q)
	}
	// Now quiet is interested too.
	juliet.Send("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='nurse@localhost' name='Angelica'/></query></iq>")
	expectPush(juliet, "nurse@localhost", "none", "")
	juliet.NextNamed("iq")
	expectPush(quiet, "nurse@localhost", "none", "")
}

// XEP-0237: a current version gets an empty result; an old one the roster.
func TestRosterVersioning(t *testing.T) {
	s := start(t)
	juliet, ros := online(t, s, "juliet", "balcony")
	ver := ros.Attr("ver")
	if ver == "" {
		t.Fatalf("roster without ver: %s", ros)
	}
	if q := getRoster(juliet, ver); q != nil {
		t.Fatalf("current version: got %s, want an empty result", q)
	}
	juliet.Send("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='romeo@localhost'/></query></iq>")
	push := expectPush(juliet, "romeo@localhost", "none", "")
	_ = push
	juliet.NextNamed("iq")
	q := getRoster(juliet, ver)
	if q == nil || q.Attr("ver") == ver || len(q.ChildElements()) != 1 {
		t.Fatalf("changed roster: got %s", q)
	}
	if again := getRoster(juliet, q.Attr("ver")); again != nil {
		t.Fatalf("new version: got %s, want an empty result", again)
	}
}

// Directed presence (RFC 6121 §4.6): the recipient hears unavailable when
// the session ends.
func TestDirectedPresence(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	nurse, _ := online(t, s, "nurse", "kitchen")
	juliet.Send("<presence to='nurse@localhost/kitchen'><status>psst</status></presence>")
	expectPresence(nurse, juliet.JID, "")
	juliet.Send("<presence><status>broadcast</status></presence>")
	expectPresence(juliet, juliet.JID, "")
	expectNothing(nurse) // not a subscriber: no broadcast
	juliet.Conn.Close()
	expectPresence(nurse, juliet.JID, "unavailable")
	expectNothing(nurse)
}

// A session can have directed presence out to only so many JIDs at a
// time: past the bound a new one is refused with policy-violation and
// not sent, while presence to a JID it already has is still sent, and
// making one unavailable frees its place.
func TestDirectedPresenceBound(t *testing.T) {
	defer roster.SetMaxDirected(2)()
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	nurse, _ := online(t, s, "nurse", "kitchen")
	juliet.Send("<presence to='nurse@localhost/kitchen'/>")
	expectPresence(nurse, juliet.JID, "")
	juliet.Send("<presence to='romeo@localhost'/>")
	juliet.Send("<presence to='romeo@localhost/orchard' id='third'/>")
	el := juliet.NextNamed("presence")
	if el.Attr("type") != "error" || el.Attr("id") != "third" || el.Attr("from") != "romeo@localhost/orchard" ||
		el.Child(stanza.NSClient, "error").Child(stanza.NSStanzas, stanza.PolicyViolation) == nil {
		t.Fatalf("third directed presence: got %s, want a policy-violation error", el)
	}
	juliet.Send("<presence to='nurse@localhost/kitchen'><status>again</status></presence>")
	expectPresence(nurse, juliet.JID, "")
	juliet.Send("<presence to='romeo@localhost' type='unavailable'/>")
	juliet.Send("<presence to='romeo@localhost/orchard'/>")
	expectNothing(juliet)
	juliet.Conn.Close()
	expectPresence(nurse, juliet.JID, "unavailable")
	expectNothing(nurse)
}

// XEP-0012: only the account and its subscribers learn its last activity.
func TestLastActivity(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	nurse, _ := online(t, s, "nurse", "kitchen")
	subscribe(t, juliet, romeo)
	last := func(c *xmpptest.Client) (string, string) {
		c.Send("<iq type='get' id='last' to='juliet@localhost'><query xmlns='jabber:iq:last'/></iq>")
		res := c.NextNamed("iq")
		if res.Attr("type") == "error" {
			return "error", res.String()
		}
		q := res.Child("jabber:iq:last", "query")
		return q.Attr("seconds"), q.Text()
	}
	if secs, _ := last(romeo); secs != "0" {
		t.Fatalf("online account: seconds %s, want 0", secs)
	}
	juliet.Send("<presence type='unavailable'><status>gone to bed</status></presence>")
	expectPresence(juliet, juliet.JID, "unavailable")
	expectPresence(romeo, juliet.JID, "unavailable")
	juliet.Ping()
	secs, status := last(romeo)
	if n, err := strconv.Atoi(secs); err != nil || n < 0 || status != "gone to bed" {
		t.Fatalf("last activity: %s %q", secs, status)
	}
	nurse.Send("<iq type='get' id='last' to='juliet@localhost'><query xmlns='jabber:iq:last'/></iq>")
	xmpptest.ExpectError(t, nurse.NextNamed("iq"), "forbidden")

	// An offline contact's probe answer is its last unavailable presence.
	juliet.Conn.Close()
	phone := xmpptest.Login(t, s, "romeo", "secret", "phone")
	phone.Online()
	expectPresence(phone, romeo.JID, "")
	p := expectPresence(phone, "juliet@localhost", "unavailable")
	if p.Child("jabber:client", "status").Text() != "gone to bed" {
		t.Fatalf("probe answer %s lacks the last status", p)
	}
}

// Bad roster sets get the error RFC 6121 §2.3.3 names, and nothing else.
func TestBadRosterSet(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	tests := []struct{ name, query, condition string }{
		{"two items", "<item jid='romeo@localhost'/><item jid='nurse@localhost'/>", "bad-request"},
		{"no item", "", "bad-request"},
		{"invalid jid", "<item jid='a@b@c'/>", "jid-malformed"},
		{"own jid", "<item jid='juliet@localhost'/>", "not-allowed"},
		{"duplicate groups", "<item jid='romeo@localhost'><group>A</group><group>A</group></item>", "bad-request"},
		{"empty group", "<item jid='romeo@localhost'><group/></item>", "not-acceptable"},
		{"long name", "<item jid='romeo@localhost' name='" + fmt.Sprintf("%01100d", 0) + "'/>", "not-acceptable"},
		{"remove missing", "<item jid='romeo@localhost' subscription='remove'/>", "item-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			juliet.Send("<iq type='set' id='bad'><query xmlns='jabber:iq:roster'>" + tt.query + "</query></iq>")
			xmpptest.ExpectError(t, juliet.NextNamed("iq"), tt.condition)
		})
	}
	juliet.Send("<iq type='get' id='other' to='romeo@localhost'><query xmlns='jabber:iq:roster'/></iq>")
	xmpptest.ExpectError(t, juliet.NextNamed("iq"), "forbidden")
	if q := getRoster(juliet, ""); len(q.ChildElements()) != 0 {
		t.Fatalf("roster after bad sets: %s", q)
	}
}

// The roster limit (config roster.max_items) is policy.
func TestRosterLimit(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Roster.MaxItems = 2 })
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet, _ := online(t, s, "juliet", "balcony")
	for i := range 2 {
		juliet.Send(fmt.Sprintf("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='c%d@localhost'/></query></iq>", i))
		juliet.NextNamed("iq")
		juliet.NextNamed("iq")
	}
	juliet.Send("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='c9@localhost'/></query></iq>")
	xmpptest.ExpectError(t, juliet.NextNamed("iq"), "policy-violation")
	juliet.Send("<presence to='c8@localhost' type='subscribe' id='sub'/>")
	xmpptest.ExpectError(t, juliet.NextNamed("presence"), "policy-violation")
}

// Subscription requests waiting for an account's answer are bounded by
// the roster limit too: one more is refused with resource-constraint
// and not stored.
func TestPendingRequestLimit(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Roster.MaxItems = 2 })
	for _, u := range []string{"juliet", "romeo", "nurse", "tybalt"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	for _, u := range []string{"romeo", "nurse"} {
		c, _ := online(t, s, u, "home")
		c.Send("<presence to='juliet@localhost' type='subscribe'/>")
		expectPush(c, "juliet@localhost", "none", "subscribe")
		expectNothing(c)
	}
	tybalt, _ := online(t, s, "tybalt", "street")
	tybalt.Send("<presence to='juliet@localhost' type='subscribe'/>")
	expectPush(tybalt, "juliet@localhost", "none", "subscribe")
	xmpptest.ExpectError(t, tybalt.NextNamed("presence"), stanza.ResourceConstraint)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	getRoster(juliet, "")
	juliet.Online()
	expectPresence(juliet, "romeo@localhost", "subscribe")
	expectPresence(juliet, "nurse@localhost", "subscribe")
	expectNothing(juliet)
}

// Many presence stanzas in a row: every one is broadcast, and the
// server stays responsive.
func TestPresenceFlood(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	subscribe(t, juliet, romeo)
	const n = 200
	for i := range n {
		juliet.Send(fmt.Sprintf("<presence><status>%d</status></presence>", i))
	}
	for i := range n {
		p := expectPresence(romeo, juliet.JID, "")
		if p.Child("jabber:client", "status").Text() != strconv.Itoa(i) {
			t.Fatalf("presence %d: %s", i, p)
		}
	}
	for range n {
		expectPresence(juliet, juliet.JID, "")
	}
	expectNothing(juliet)
	expectNothing(romeo)
}

// Rosters, subscriptions, pending requests and last presence survive a
// restart.
func TestRestart(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	subscribe(t, juliet, romeo)
	juliet.Send("<presence to='nurse@localhost' type='subscribe'/>")
	expectPush(juliet, "nurse@localhost", "none", "subscribe")
	juliet.Send("<presence type='unavailable'><status>farewell</status></presence>")
	expectPresence(juliet, juliet.JID, "unavailable")
	expectPresence(romeo, juliet.JID, "unavailable")
	juliet.Ping()

	s2 := xmpptest.Restart(t, s)
	romeo2 := xmpptest.Login(t, s2, "romeo", "secret", "orchard")
	ros := getRoster(romeo2, "")
	it := ros.Child(nsRoster, "item")
	if it == nil || it.Attr("jid") != "juliet@localhost" || it.Attr("subscription") != "both" {
		t.Fatalf("roster after restart: %s", ros)
	}
	romeo2.Online()
	p := expectPresence(romeo2, "juliet@localhost", "unavailable")
	if p.Child("jabber:client", "status").Text() != "farewell" {
		t.Fatalf("last presence after restart: %s", p)
	}
	nurse := xmpptest.Login(t, s2, "nurse", "secret", "kitchen")
	nurse.Online()
	expectPresence(nurse, "juliet@localhost", "subscribe")
}

// TestPushWithoutChange: a subscription request sent again is pushed
// again (RFC 6121 §3.1.2), but the roster did not change, so the push
// names no version (XEP-0237 §2.4): the client's stays right.
func TestPushWithoutChange(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	juliet.Send("<presence to='romeo@localhost' type='subscribe'/>")
	expectPush(juliet, "romeo@localhost", "none", "subscribe")
	expectPresence(romeo, "juliet@localhost", "subscribe")
	juliet.Send("<presence to='romeo@localhost' type='subscribe'/>")
	el := juliet.NextNamed("iq")
	if q := el.Child(nsRoster, "query"); q == nil || q.Attr("ver") != "" {
		t.Fatalf("push after an unchanged subscribe: %s, want one without a version", el)
	}
}

// XEP-0012 §5: the server, which announces jabber:iq:last, answers a
// query to its domain with its uptime, without a status.
func TestServerUptime(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Send("<iq type='get' id='up' to='localhost'><query xmlns='jabber:iq:last'/></iq>")
	res := juliet.NextNamed("iq")
	q := res.Child("jabber:iq:last", "query")
	if res.Attr("type") != "result" || res.Attr("from") != "localhost" || q == nil {
		t.Fatalf("uptime query: %s", res)
	}
	if n, err := strconv.Atoi(q.Attr("seconds")); err != nil || n < 0 || q.Text() != "" {
		t.Fatalf("uptime %s", q)
	}
}
