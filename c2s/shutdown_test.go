package c2s_test

import (
	"sort"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// On a graceful stop, what a stream-managed client had not acknowledged is
// moved to offline storage (issue: graceful stop), and arrives at its next
// login on the restarted server.
func TestShutdownKeepsUnacknowledgedMessages(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.EnableSM()
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	for _, body := range []string{"one", "two", "three"} {
		romeo.Send("<message to='juliet@localhost/balcony' type='chat'><body>" + body + "</body></message>")
		xmpptest.ExpectBody(t, juliet.NextNamed("message"), romeo.JID, body) // read, never acknowledged
	}

	s = xmpptest.Restart(t, s) // Shutdown, then a new server on the same database
	juliet.ExpectStreamError("system-shutdown")

	again := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	again.Send("<presence/>")
	var got []string
	for len(got) < 3 {
		el := again.Next()
		if b := el.Child("jabber:client", "body"); el.Name.Local == "message" && b != nil {
			if el.Child("urn:xmpp:delay", "delay") == nil {
				t.Errorf("offline message without a delay stamp: %s", el)
			}
			got = append(got, b.Text())
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "one three two" {
		t.Fatalf("after the restart juliet got %v, want one, two and three", got)
	}
}
