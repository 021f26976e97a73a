package cluster_test

import (
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
)

// TestPasswordChangeRevokesOnEveryNode: a stream that logged in on node b
// with juliet's old password, and has not bound a resource yet, cannot
// bind once she changed her password on node a.
func TestPasswordChangeRevokesOnEveryNode(t *testing.T) {
	a, b := twoNodes(t, "juliet")
	juliet := login(t, a, "juliet", "balcony")
	binding := xmpptest.Dial(t, b.C2SAddr)
	binding.Authenticated("juliet", "juliet pw")
	before := time.Now()

	juliet.Send("<iq type='set' id='p1' to='localhost'><query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query></iq>")
	if el := juliet.NextNamed("iq"); el.Attr("type") != "result" {
		t.Fatalf("password change: %s", el)
	}
	bare := jid.MustParse("juliet@localhost")
	deadline := time.Now().Add(xmpptest.ReadTimeout)
	for !b.Router().Revoked(bare, before) {
		if time.Now().After(deadline) {
			t.Fatal("node b never heard that juliet's logins were revoked")
		}
		time.Sleep(5 * time.Millisecond)
	}
	binding.Send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>late</resource></bind></iq>")
	binding.ExpectStreamError("not-authorized")
	juliet.Ping() // the session that changed it stays
}
