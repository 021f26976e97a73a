package muc_test

import (
	"testing"

	"xmppd/muc"
	"xmppd/xmlstream"
)

// A user may own at most Config.MaxOwnedRooms persistent rooms: making
// one more persistent is refused with policy-violation and leaves it
// temporary (XEP-0045 §10.1, "subject to local policies"); destroying
// one of them frees its place.
func TestMaxOwnedRooms(t *testing.T) {
	t.Parallel()
	s, c := inProcess(t, muc.Config{MaxOwnedRooms: 2}, "juliet", "romeo")
	juliet := c["juliet"]
	// persist has juliet create name and submit its configuration
	// making it persistent; it returns the IQ answer.
	persist := func(name string) *xmlstream.Element {
		t.Helper()
		j := name + "@" + service
		route(t, s, juliet, "<presence to='"+j+"/jul'><x xmlns='"+nsMUC+"'/></presence>")
		juliet.take()
		route(t, s, juliet, "<iq type='set' id='cfg' to='"+j+"'><query xmlns='"+nsMUC+"#owner'><x xmlns='jabber:x:data' type='submit'>"+
			field("muc#roomconfig_persistentroom", "1")+"</x></query></iq>")
		for _, el := range juliet.take() {
			if el.Name.Local == "iq" {
				return el
			}
		}
		t.Fatalf("no answer to the configuration of %s", j)
		return nil
	}
	for _, name := range []string{"a", "b"} {
		if el := persist(name); el.Attr("type") != "result" {
			t.Fatalf("making room %s persistent: %s", name, el)
		}
	}
	el := persist("c")
	if el.Attr("type") != "error" || el.Child("jabber:client", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "policy-violation") == nil {
		t.Fatalf("a third persistent room: %s, want policy-violation", el)
	}
	// Romeo is not limited by juliet's rooms.
	romeo := c["romeo"]
	route(t, s, romeo, "<presence to='d@"+service+"/romeo'><x xmlns='"+nsMUC+"'/></presence>")
	route(t, s, romeo, "<iq type='set' id='cfg' to='d@"+service+"'><query xmlns='"+nsMUC+"#owner'><x xmlns='jabber:x:data' type='submit'>"+
		field("muc#roomconfig_persistentroom", "1")+"</x></query></iq>")
	if got := romeo.take(); got[len(got)-1].Attr("type") != "result" {
		t.Fatalf("romeo's persistent room: %s", got[len(got)-1])
	}
	// Destroying one of hers frees a place.
	route(t, s, juliet, "<iq type='set' id='d' to='a@"+service+"'><query xmlns='"+nsMUC+"#owner'><destroy/></query></iq>")
	juliet.take()
	if el := persist("c"); el.Attr("type") != "result" {
		t.Fatalf("a persistent room after destroying one: %s", el)
	}
}
