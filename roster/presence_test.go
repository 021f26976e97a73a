package roster_test

import (
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// An offline contact's probe answer, its last unavailable presence, says
// when that was with a server-made <delay/> (RFC 6121 §4.3.2, XEP-0203);
// a <delay/> the client put in is not passed on as the server's.
func TestProbeAnswerDelay(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	subscribe(t, juliet, romeo)
	before := time.Now().Add(-time.Minute)
	juliet.Send("<presence type='unavailable'><status>bye</status>" +
		"<delay xmlns='urn:xmpp:delay' from='juliet@localhost' stamp='2000-01-01T00:00:00Z'/></presence>")
	expectPresence(juliet, juliet.JID, "unavailable")
	expectPresence(romeo, juliet.JID, "unavailable")
	juliet.Ping()

	phone := xmpptest.Login(t, s, "romeo", "secret", "phone")
	phone.Online()
	expectPresence(phone, romeo.JID, "")
	p := expectPresence(phone, "juliet@localhost", "unavailable")
	var delays int
	for _, c := range p.ChildElements() {
		if c.Name.Space != "urn:xmpp:delay" || c.Name.Local != "delay" {
			continue
		}
		delays++
		stamp, err := time.Parse(time.RFC3339, c.Attr("stamp"))
		if err != nil || stamp.Before(before) || c.Attr("from") != "localhost" {
			t.Fatalf("probe answer %s: delay %s, want the server's stamp of the logout", p, c)
		}
	}
	if delays != 1 {
		t.Fatalf("probe answer %s has %d delays, want 1", p, delays)
	}
	if p.Child("jabber:client", "status").Text() != "bye" {
		t.Fatalf("probe answer %s lacks the last status", p)
	}
}
