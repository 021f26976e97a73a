package muc_test

import "testing"

// XEP-0045 §7.2.3 (its examples): the self-presence that ends the
// presences of a join carries the id of the join presence, by which
// clients match it to their request; on creating a room and on joining
// again too.
func TestSelfPresenceHasJoinID(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	juliet.Send("<presence id='create1' to='" + room + "/jul'><x xmlns='" + nsMUC + "'/></presence>")
	if el := expectPresence(t, juliet, room+"/jul", "", "110", "170", "201"); el.Attr("id") != "create1" {
		t.Fatalf("self-presence on creating: %s, want id create1", el)
	}
	expectSubject(t, juliet, "")
	submit(juliet, room, "")
	expectIQ(t, juliet, "cfg", "result")

	for _, id := range []string{"join1", "join2"} { // entering, then joining again
		romeo.Send("<presence id='" + id + "' to='" + room + "/romeo'><x xmlns='" + nsMUC + "'/></presence>")
		romeo.ExpectPresenceFrom(room + "/jul")
		if el := expectPresence(t, romeo, room+"/romeo", "", "110", "170"); el.Attr("id") != id {
			t.Fatalf("self-presence: %s, want id %s", el, id)
		}
		expectSubject(t, romeo, "")
		expectPresence(t, juliet, room+"/romeo", "")
	}
}
