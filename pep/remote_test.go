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
