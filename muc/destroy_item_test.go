package muc_test

import (
	"testing"
	"xmppd/internal/xmpptest"
)

// TestDestroyItemIsNone: the occupants of a destroyed room are told
// they have no affiliation and no role in it any more (XEP-0045 §10.9,
// its example; Prosody and ejabberd send the same): an owner's client
// would otherwise believe it still owns a room that is gone.
func TestDestroyItemIsNone(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	adminSet(juliet, "m", "<item jid='romeo@localhost' affiliation='member'/>")
	expectIQ(t, juliet, "m", "result")
	expectPresence(t, juliet, room+"/romeo", "")
	expectPresence(t, romeo, room+"/romeo", "", "110")

	juliet.Send("<iq type='set' id='d' to='" + room + "'><query xmlns='" + nsMUC + "#owner'><destroy/></query></iq>")
	for nick, c := range map[string]*xmpptest.Client{"jul": juliet, "romeo": romeo} {
		it := item(t, expectPresence(t, c, room+"/"+nick, "unavailable", "110"))
		if it.Attr("affiliation") != "none" || it.Attr("role") != "none" {
			t.Errorf("%s: the destroyed room's item is %s, want affiliation and role none", nick, it)
		}
	}
	expectIQ(t, juliet, "d", "result")

	// So is the owner who leaves a room before configuring it, which
	// goes with them (§10.1.3).
	juliet.Send("<presence to='" + room + "/jul'><x xmlns='" + nsMUC + "'/></presence>")
	expectPresence(t, juliet, room+"/jul", "", "110", "170", "201")
	expectSubject(t, juliet, "")
	juliet.Send("<presence type='unavailable' to='" + room + "/jul'/>")
	if it := item(t, expectPresence(t, juliet, room+"/jul", "unavailable", "110")); it.Attr("affiliation") != "none" {
		t.Errorf("the owner leaving a locked room: the item is %s, want affiliation none", it)
	}
}
