package httpd_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestResumeOverWebSocketWithoutPrivate: a message marked private for
// message carbons reaches juliet's TCP client without its <private/>
// (XEP-0280 §9). Unacknowledged when her connection drops, it is sent
// again when she resumes over WebSocket, whose frames are serialised
// anew: still without <private/>.
func TestResumeOverWebSocketWithoutPrivate(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	sm := xmpptest.LoginSM(t, s, "juliet", "secret", "balcony")
	romeo.Send("<message to='juliet@localhost/balcony' type='chat' id='m1'><body>hush</body><private xmlns='urn:xmpp:carbons:2'/></message>")
	if m := sm.Next(); m.Attr("id") != "m1" || m.Child("urn:xmpp:carbons:2", "private") != nil {
		t.Fatalf("got %s, want m1 without <private/>", m)
	}
	sm.C.Conn.Close() // m1 is never acknowledged

	w, _, err := dialWS(t, s, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.authenticate("juliet", "secret")
	w.send("<resume xmlns='urn:xmpp:sm:3' previd='" + sm.ID + "' h='0'/>")
	if el := w.next(); el.Name.Local != "resumed" {
		t.Fatalf("got %s, want <resumed/>", el)
	}
	if m := w.next(); m.Attr("id") != "m1" || m.Child("urn:xmpp:carbons:2", "private") != nil {
		t.Fatalf("got %s, want m1 again without <private/>", m)
	}
}
