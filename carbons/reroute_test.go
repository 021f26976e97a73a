package carbons_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestReroutedNotCopiedAgain: a message to juliet's balcony reaches her
// garden and window, which have carbons enabled, as carbon copies. The
// balcony's session ends before its client acknowledged the message
// (XEP-0198), so the message is routed again: the garden, her best
// resource, gets the message itself. The window has its copy already and
// gets no second one.
func TestReroutedNotCopiedAgain(t *testing.T) {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	balcony := xmpptest.LoginSM(t, s, "juliet", "secret", "balcony")
	balcony.AutoAck = false
	garden := xmpptest.Login(t, s, "juliet", "secret", "garden")
	window := xmpptest.Login(t, s, "juliet", "secret", "window")
	garden.Send("<presence><priority>1</priority></presence>")
	garden.MessagesBeforePing()
	window.Send("<presence/>")
	window.MessagesBeforePing()
	garden.MessagesBeforePing()
	for _, r := range []*xmpptest.Client{garden, window} {
		toggle(t, r, "enable")
	}

	romeo.Send("<message to='juliet@localhost/balcony' type='chat' id='m1'><body>hi</body></message>")
	if m := balcony.Next(); m.Attr("id") != "m1" {
		t.Fatalf("balcony got %s, want m1", m)
	}
	for _, r := range []*xmpptest.Client{garden, window} {
		expectForwarded(t, expectCarbon(t, r, "received", "chat"), "romeo@localhost/orchard", "juliet@localhost/balcony", "hi")
	}
	balcony.C.Send("</stream:stream>")
	for {
		m := garden.NextNamed("message")
		if m.Attr("id") == "m1" && m.Child(nsClient, "body") != nil {
			break
		}
	}
	if ms := window.MessagesBeforePing(); len(ms) > 0 {
		t.Fatalf("window got %s, a second copy of m1", ms[0])
	}
}
