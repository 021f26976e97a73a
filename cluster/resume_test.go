package cluster_test

import (
	"fmt"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestResumeOnAnotherNode: bob's connection to node b is lost while
// alice's messages wait unacknowledged in his resumable session. He
// comes back on node a, which cannot resume the session but has b end it
// at once: the <failed/> tells how many of bob's stanzas b handled, and
// the messages, routed again by b, reach his new session on a, without
// waiting for the resumption timeout (five minutes).
func TestResumeOnAnotherNode(t *testing.T) {
	a, b := twoNodes(t, "alice", "bob")
	alice := login(t, a, "alice", "desk")
	bob := xmpptest.Login(t, b, "bob", "bob pw", "tablet")
	bobSM := bob.EnableSM()
	bobSM.AutoAck = false // bob reads, but never acknowledges
	bobSM.Send("<presence/>")
	bobSM.Next() // its reflection
	sees(t, a, "bob@localhost/tablet", "")
	if !strings.HasPrefix(bobSM.ID, b.Cluster().ResumePrefix()) {
		t.Fatalf("resumption id %q does not name node b (%s)", bobSM.ID, b.Cluster().ResumePrefix())
	}

	const n = 3
	for i := 1; i <= n; i++ {
		alice.Send(fmt.Sprintf("<message to='bob@localhost/tablet' type='chat' id='m%d'><body>message %d</body></message>", i, i))
		xmpptest.ExpectBody(t, nextMessage(bob), "alice@localhost/desk", fmt.Sprintf("message %d", i))
	}
	bob.Conn.Close() // no </stream:stream>: the session waits on b

	// Another account cannot end it.
	other := xmpptest.Dial(t, a.C2SAddr)
	other.Authenticated("alice", "alice pw")
	if el := other.Resume(bobSM.ID, 0); el.Name.Local != "failed" || el.Attr("h") != "" {
		t.Fatalf("alice resuming bob's session: got %s, want <failed/> that tells nothing", el)
	}

	again := xmpptest.Dial(t, a.C2SAddr)
	again.Authenticated("bob", "bob pw")
	// h tells that b answered: 1 once bob's presence is safe, 0 while
	// its reflection, which bob never acknowledged, holds it.
	failed := again.Resume(bobSM.ID, 0)
	if h := failed.Attr("h"); failed.Name.Local != "failed" || h != "0" && h != "1" {
		t.Fatalf("got %s, want <failed/> with the count b handled", failed)
	}
	again.Bind("tablet")
	again.Online()
	for i := 1; i <= n; i++ {
		xmpptest.ExpectBody(t, nextMessage(again), "alice@localhost/desk", fmt.Sprintf("message %d", i))
	}

	// The id of no node fails as any unknown id does.
	c := xmpptest.Dial(t, a.C2SAddr)
	c.Authenticated("bob", "bob pw")
	if el := c.Resume("nonode-"+bobSM.ID, 0); el.Name.Local != "failed" || el.Attr("h") != "" {
		t.Fatalf("resuming the id of no node: got %s, want <failed/>", el)
	}
}
