package router_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// A <priority/> is an xs:byte, whose white space collapses (RFC 6121
// §4.7.2.3 and its schema): spaces around the number are valid, and the
// number counts.
func TestPriorityWithSpaces(t *testing.T) {
	s := start(t)
	low := xmpptest.Login(t, s, "juliet", "secret", "low")
	low.Send("<presence><priority>1</priority></presence>")
	low.ExpectPresenceFrom("juliet@localhost/low")
	high := xmpptest.Login(t, s, "juliet", "secret", "high")
	high.Send("<presence><priority>\n  5 </priority></presence>")
	if p := high.NextNamed("presence"); p.Attr("type") != "" || p.Attr("from") != "juliet@localhost/high" {
		t.Fatalf("presence with a spaced priority: got %s, want its reflection", p)
	}
	high.ExpectPresenceFrom("juliet@localhost/low")
	low.ExpectPresenceFrom("juliet@localhost/high")

	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<message to='juliet@localhost' type='chat'><body>to the best one</body></message>")
	xmpptest.ExpectBody(t, high.NextNamed("message"), "romeo@localhost/orchard", "to the best one")
}
