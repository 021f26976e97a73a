package cluster_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestPhotoChangeReachesTheOtherNode checks that a node that cached an
// account's vCard photo hash (XEP-0398) drops it when the photo changes
// on another node.
func TestPhotoChangeReachesTheOtherNode(t *testing.T) {
	_, b, alice, bob := pair(t, "carol")
	carol := login(t, b, "carol", "phone")
	tablet := login(t, b, "alice", "tablet") // b now holds alice's hash: none

	sum := sha1.Sum([]byte("a portrait"))
	hash := hex.EncodeToString(sum[:])
	alice.Send("<iq type='set' id='v1'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>" +
		base64.StdEncoding.EncodeToString([]byte("a portrait")) + "</BINVAL></PHOTO></vCard></iq>")
	if el := nextIQ(alice); el.Attr("id") != "v1" || el.Attr("type") != "result" {
		t.Fatalf("alice got %s, want the vCard's result", el)
	}
	// a told b to forget alice's hash before it sent this, and b handles
	// a's messages in order.
	alice.Send("<message to='carol@localhost' type='chat' id='m1'><body>barrier</body></message>")
	xmpptest.ExpectBody(t, nextMessage(carol), "alice@localhost/desk", "barrier")

	tablet.Send("<presence to='" + bob.JID + "'/>")
	p := nextPresence(bob, tablet.JID, "")
	if x := p.Child("vcard-temp:x:update", "x"); x == nil || x.Child("vcard-temp:x:update", "photo").Text() != hash {
		t.Fatalf("bob got %s, want the new photo's hash", p)
	}
}
