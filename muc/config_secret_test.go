package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestRoomSecretAloneProtects: an owner who submits a room password
// without muc#roomconfig_passwordprotectedroom (XEP-0045 §10.2 lets a
// form leave fields out) protects the room with it; the password was
// dropped, and the room left open to all, while the owner was told the
// configuration was applied.
func TestRoomSecretAloneProtects(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_roomsecret", "nightingale"))

	romeo.Send("<presence to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
	xmpptest.ExpectError(t, romeo.ExpectPresenceFrom(room+"/romeo"), "not-authorized")
	enter(t, romeo, room, "romeo", "<password>nightingale</password>", []string{"jul"}, 0, "")
}
