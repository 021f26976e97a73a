package roster_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// Roster pushes reach every interested resource in the order of the
// roster's versions (RFC 6121 §2.6.3, XEP-0237 §3), even when several
// resources change the roster at once.
func TestPushesInVersionOrder(t *testing.T) {
	const resources, sets = 5, 20
	s := start(t)
	var cs []*xmpptest.Client
	for i := range resources {
		c := xmpptest.Login(t, s, "juliet", "secret", "r"+strconv.Itoa(i))
		getRoster(c, "") // interested in pushes
		cs = append(cs, c)
	}
	// Each resource sends all its sets at once; the resources' sessions
	// run side by side, so the changes race each other.
	for i, c := range cs {
		var b strings.Builder
		for n := range sets {
			fmt.Fprintf(&b, "<iq type='set' id='set%d'><query xmlns='jabber:iq:roster'><item jid='c%d@localhost' name='r%d-%d'/></query></iq>", n, n%4, i, n)
		}
		c.Send(b.String())
	}
	for _, c := range cs {
		results, pushes := 0, 0
		last := int64(0)
		for results < sets || pushes < resources*sets {
			el := c.NextNamed("iq")
			if el.Attr("type") == "result" {
				results++
				continue
			}
			q := el.Child(nsRoster, "query")
			if el.Attr("type") != "set" || q == nil {
				t.Fatalf("%s: got %s, want a roster push or a result", c.JID, el)
			}
			ver, err := strconv.ParseInt(q.Attr("ver"), 10, 64)
			if err != nil {
				t.Fatalf("%s: push %s without a numeric version", c.JID, el)
			}
			if ver <= last {
				t.Fatalf("%s: push of version %d after version %d", c.JID, ver, last)
			}
			last = ver
			pushes++
		}
		expectNothing(c)
	}
}
