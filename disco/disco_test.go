package disco_test

import (
	"strings"
	"testing"

	"xmppd/disco"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// start runs a server with the accounts juliet and romeo, both online.
func start(t *testing.T) (juliet, romeo *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, u+" pw")
	}
	juliet = xmpptest.Login(t, s, "juliet", "juliet pw", "balcony")
	romeo = xmpptest.Login(t, s, "romeo", "romeo pw", "orchard")
	juliet.Online()
	romeo.Online()
	return juliet, romeo
}

const info = "<query xmlns='" + disco.NSInfo + "'/>"

// expectAccountInfo checks that res is an account's disco#info.
func expectAccountInfo(t *testing.T, res *xmlstream.Element) {
	t.Helper()
	q := res.Child(disco.NSInfo, "query")
	if res.Attr("type") != "result" || q == nil || !strings.Contains(q.String(), "category='account'") {
		t.Fatalf("got %s, want the account's disco#info", res)
	}
}

// TestAccountInfoOnlyToContacts: the server answers disco#info to an
// account's bare JID for the account itself and for those subscribed to
// its presence; anybody else gets service-unavailable, as for an account
// that does not exist (XEP-0030 §8).
func TestAccountInfoOnlyToContacts(t *testing.T) {
	juliet, romeo := start(t)
	expectAccountInfo(t, juliet.IQ("get", "juliet@localhost", info))
	expectAccountInfo(t, juliet.IQ("get", "", info))
	xmpptest.ExpectError(t, romeo.IQ("get", "juliet@localhost", info), "service-unavailable")
	xmpptest.ExpectError(t, romeo.IQ("get", "nobody@localhost", info), "service-unavailable")

	// romeo subscribes to juliet: he sees her presence, she not his.
	romeo.Send("<presence to='juliet@localhost' type='subscribe'/>")
	if p := juliet.NextNamed("presence"); p.Attr("type") != "subscribe" {
		t.Fatalf("got %s, want a subscription request", p)
	}
	juliet.Send("<presence to='romeo@localhost' type='subscribed'/>")
	if p := romeo.NextNamed("presence"); p.Attr("type") != "subscribed" {
		t.Fatalf("got %s, want subscribed", p)
	}
	expectAccountInfo(t, romeo.IQ("get", "juliet@localhost", info))
	xmpptest.ExpectError(t, juliet.IQ("get", "romeo@localhost", info), "service-unavailable")
}
