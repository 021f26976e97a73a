package pep

import (
	"strconv"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/caps"
	"xmppd/xmlstream"
)

// TestRemoteBounds: one account follows at most maxRemotePerAccount
// remote resources; a forgotten one makes room, and an announcement
// already known is not new.
func TestRemoteBounds(t *testing.T) {
	var rm remote
	account, other := jid.MustParse("alice@a.test"), jid.MustParse("carol@a.test")
	c := xmlstream.NewElement(caps.NS, "c", "ver", "v")
	contact := func(i int) jid.JID { return jid.MustParse("bob" + strconv.Itoa(i) + "@b.test/r") }
	for i := range maxRemotePerAccount {
		if rm.announce(account, contact(i), "n#v", c) == nil {
			t.Fatalf("announcement %d refused", i)
		}
	}
	if rm.announce(account, contact(0), "n#v", c) != nil {
		t.Fatal("a known announcement counted as new")
	}
	if rm.announce(account, contact(maxRemotePerAccount), "n#v", c) != nil {
		t.Fatal("an announcement beyond the account's bound accepted")
	}
	if rm.announce(other, contact(0), "n#v", c) == nil {
		t.Fatal("another account's announcement refused")
	}
	rm.forget(account, contact(0))
	if rm.announce(account, contact(maxRemotePerAccount), "n#v", c) == nil {
		t.Fatal("no room after a resource was forgotten")
	}
	if rm.n != maxRemotePerAccount+1 || rm.accounts[account.String()].n != maxRemotePerAccount {
		t.Fatalf("counts %d and %d", rm.n, rm.accounts[account.String()].n)
	}
}

// TestRemoteLastItemsOnce: the last items reach a remote resource once
// for what it announced, though its wishes are learnt twice at the same
// time (from its presence, and again as its subscription is approved),
// and an approval that comes again learns nothing anew (XEP-0163
// §4.3.4).
func TestRemoteLastItemsOnce(t *testing.T) {
	var rm remote
	account, contact := jid.MustParse("alice@a.test"), jid.MustParse("bob@b.test/r")
	c := xmlstream.NewElement(caps.NS, "c", "ver", "v")
	if rm.announce(account, contact, "n#v", c) == nil {
		t.Fatal("announcement refused")
	}
	if len(rm.unknown(account, contact)) != 1 {
		t.Fatal("a resource whose wishes are not learnt is not unknown")
	}
	if !rm.learned(account, contact, "n#v", nil) {
		t.Fatal("the first learning of the announcement sends nothing")
	}
	if rm.learned(account, contact, "n#v", nil) {
		t.Fatal("a second learning of the same announcement sends the last items again")
	}
	if as := rm.unknown(account, contact); len(as) != 0 {
		t.Fatalf("after its wishes were learnt, %v are unknown", as)
	}
}
