package roster_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// incompressible returns n hex digits that do not repeat, seeded by seed,
// so that the database cannot compress them.
func incompressible(seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	var b strings.Builder
	for b.Len() < n {
		sum = sha256.Sum256(sum[:])
		b.WriteString(hex.EncodeToString(sum[:]))
	}
	return b.String()[:n]
}

// A roster item whose owner's and contact's JIDs together are too long
// for the database to index is refused with not-acceptable, as the
// server may limit what a roster item holds (RFC 6121 §2.3.3), not
// failed with internal-server-error; the roster is unchanged.
func TestItemTooLongToStore(t *testing.T) {
	s := start(t)
	user := incompressible("owner", 1023) // the longest localpart (RFC 7622 §3.3)
	s.AddUser(t, user, xmpptest.Domain, "secret")
	c := xmpptest.Login(t, s, user, "secret", "r")
	var labels []string
	for i := range 15 {
		labels = append(labels, incompressible("label"+string(rune('a'+i)), 63))
	}
	contact := incompressible("contact", 1023) + "@" + strings.Join(labels, ".")
	res := c.IQ("set", "", "<query xmlns='jabber:iq:roster'><item jid='"+contact+"'/></query>")
	xmpptest.ExpectError(t, res, "not-acceptable")
	c.Send("<presence type='subscribe' to='" + contact + "'/>")
	xmpptest.ExpectError(t, c.NextNamed("presence"), "not-acceptable")
	if q := getRoster(c, ""); len(q.ChildElements()) != 0 {
		t.Fatalf("roster after refused items: %s", q)
	}
}
