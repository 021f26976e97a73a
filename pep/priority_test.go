package pep_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestNegativePriority: a subscriber's session of negative priority gets
// no notifications and no last items, though it asks for them: XEP-0163
// §4.3.2 sends them to the resources of non-negative priority, §4.3.3
// the last item to those coming online so. The account's own sessions
// get them all the same (§4: all of the owner's available resources).
func TestNegativePriority(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))
	presence, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", mood+"+notify")
	negative := strings.Replace(presence, "<presence>", "<presence><priority>-1</priority>", 1)

	// Juliet's own session of negative priority gets her last mood.
	tower := xmpptest.Login(t, s, "juliet", "secret", "tower")
	tower.Send(negative)
	juliet.ExpectPresenceFrom(tower.JID)
	xmpptest.AnswerDisco(t, tower, info)
	if its := expectEvent(t, tower); !strings.Contains(its.String(), "<happy") {
		t.Fatalf("juliet's own session got %s, want her last mood", its)
	}

	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	ok(t, romeo.IQ("set", "", publish(mood, "r", "<mood xmlns='"+mood+"'><calm/></mood>", "")))
	romeo.Send(negative)
	romeo.ExpectPresenceFrom(romeo.JID)
	for { // his own last mood: his capabilities are known
		if m := romeo.NextNamed("message"); m.Child(nsEvent, "event") != nil {
			break
		}
	}
	subscribe(t, romeo, juliet)
	if evs := eventsUntilMessage(t, juliet, romeo); len(evs) != 0 {
		t.Fatalf("romeo's session of negative priority got %v when juliet approved him, want nothing", evs)
	}
	ok(t, juliet.IQ("set", "", publish(mood, "2", moodPayload("sad"), "")))
	if evs := eventsUntilMessage(t, juliet, romeo); len(evs) != 0 {
		t.Fatalf("romeo's session of negative priority got %v, want no notification", evs)
	}
	for {
		if el := tower.Next(); el.Name.Local == "message" && strings.Contains(el.String(), "<sad") {
			break
		}
	}
}
