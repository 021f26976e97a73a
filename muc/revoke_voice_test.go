package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestRevokeVoiceOfEqualAffiliation: a moderator may not revoke voice
// from a user whose affiliation is at or above their own (XEP-0045 §8.4:
// MUST NOT, not-allowed): a member whom the owner made a moderator may
// not silence another member, though he may a user with no affiliation.
func TestRevokeVoiceOfEqualAffiliation(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse, tybalt := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse"), online(t, s, "tybalt")
	createWithRomeo(t, juliet, romeo)
	enter(t, nurse, room, "nurse", "", []string{"jul", "romeo"}, 0, "")
	enter(t, tybalt, room, "tybalt", "", []string{"jul", "romeo", "nurse"}, 0, "")
	adminSet(juliet, "m", "<item jid='romeo@localhost' affiliation='member'/><item jid='nurse@localhost' affiliation='member'/>")
	answer(juliet, "m")
	adminSet(juliet, "mod", "<item nick='romeo' role='moderator'/>")
	answer(juliet, "mod")

	adminSet(romeo, "v1", "<item nick='nurse' role='visitor'/>")
	xmpptest.ExpectError(t, answer(romeo, "v1"), "not-allowed")
	adminSet(romeo, "v2", "<item nick='tybalt' role='visitor'/>")
	if el := answer(romeo, "v2"); el.Attr("type") != "result" {
		t.Fatalf("revoking the voice of a user with no affiliation: %s", el)
	}
}

// TestRoleChangeReasonAndActor: the presence that tells of a role change
// carries the moderator's reason and who made it, as a kick's does
// (XEP-0045 §8.4, §8.5), for the occupant and for the room.
func TestRoleChangeReasonAndActor(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	adminSet(juliet, "v", "<item nick='romeo' role='visitor'><reason>brawling</reason></item>")
	expectIQ(t, juliet, "v", "result")
	for _, p := range []*xmlstream.Element{
		expectPresence(t, romeo, room+"/romeo", "", "110"),
		expectPresence(t, juliet, room+"/romeo", ""),
	} {
		it := p.Child(nsMUC+"#user", "x").Child(nsMUC+"#user", "item")
		if it.Attr("role") != "visitor" || text(it.Child(nsMUC+"#user", "reason")) != "brawling" ||
			it.Child(nsMUC+"#user", "actor").Attr("nick") != "jul" {
			t.Errorf("role change told as %s; want role visitor, the reason and actor jul", p)
		}
	}
}
