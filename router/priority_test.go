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

// A <show/> is one of away, chat, dnd and xa (RFC 6121 §4.7.2.1): any
// other is refused with bad-request, as a bad <priority/> is, and not
// broadcast. An empty one, which old clients send, means none.
func TestInvalidShow(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	other := xmpptest.Login(t, s, "juliet", "secret", "other")
	other.Send("<presence/>")
	other.ExpectPresenceFrom("juliet@localhost/other")
	for _, show := range []string{"bogus", "Away", "away dnd"} {
		juliet.Send("<presence><show>" + show + "</show></presence>")
		xmpptest.ExpectError(t, juliet.NextNamed("presence"), "bad-request")
	}
	juliet.Send("<presence><show/></presence>")
	juliet.ExpectPresenceFrom("juliet@localhost/balcony") // initial: then the other's
	juliet.ExpectPresenceFrom("juliet@localhost/other")
	other.ExpectPresenceFrom("juliet@localhost/balcony")
	juliet.Send("<presence><show> dnd </show></presence>")
	if p := juliet.NextNamed("presence"); p.Attr("type") != "" || p.Attr("from") != "juliet@localhost/balcony" {
		t.Fatalf("presence with show dnd: got %s, want its reflection", p)
	}
	if p := other.NextNamed("presence"); p.Child("jabber:client", "show").Text() != " dnd " {
		t.Fatalf("other resource got %s, want the dnd presence and nothing before it", p)
	}
	// Going offline is never refused for what an unavailable presence
	// does not need.
	juliet.Send("<presence type='unavailable'><show>bogus</show></presence>")
	if p := other.NextNamed("presence"); p.Attr("type") != "unavailable" || p.Attr("from") != "juliet@localhost/balcony" {
		t.Fatalf("other resource got %s, want juliet's unavailable presence", p)
	}
}

// An unavailable presence with a <priority/> that is not a number still
// takes the resource offline: its priority does not matter any more, and
// refusing it would leave the resource available to everyone.
func TestUnavailableWithBadPriority(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	other := xmpptest.Login(t, s, "juliet", "secret", "other")
	other.Send("<presence/>")
	other.ExpectPresenceFrom("juliet@localhost/other")
	juliet.Send("<presence/>")
	juliet.ExpectPresenceFrom("juliet@localhost/balcony")
	juliet.ExpectPresenceFrom("juliet@localhost/other")
	other.ExpectPresenceFrom("juliet@localhost/balcony")
	juliet.Send("<presence type='unavailable'><priority>high</priority></presence>")
	if p := juliet.NextNamed("presence"); p.Attr("type") != "unavailable" {
		t.Fatalf("unavailable presence with a bad priority: got %s, want its reflection", p)
	}
	if p := other.NextNamed("presence"); p.Attr("type") != "unavailable" || p.Attr("from") != "juliet@localhost/balcony" {
		t.Fatalf("other resource got %s, want juliet's unavailable presence", p)
	}
}
