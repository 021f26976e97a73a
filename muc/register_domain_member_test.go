package muc_test

import (
	"context"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/muc"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

// A user who is a member through their domain (§9.1) and registers a
// nickname with a persistent room keeps it: the registration is stored
// (as the user's own membership, which is what registering grants), not
// only held in memory until the next restart.
func TestRegisteredNickOfDomainMemberIsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := postgres.NewMUC(pgtest.Pool(t))
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	s, err := muc.New(ctx, r, muc.Config{Domain: service, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	s.Register()
	t.Cleanup(s.Close)
	c := map[string]*recorder{}
	for _, u := range []string{"juliet", "romeo"} {
		c[u] = &recorder{j: jid.MustParse(u + "@localhost/r")}
		r.Bind(c[u])
	}
	route(t, s, c["juliet"], "<presence to='"+room+"/jul'><x xmlns='"+nsMUC+"'/></presence>")
	route(t, s, c["juliet"], "<iq type='set' id='cfg' to='"+room+"'><query xmlns='"+nsMUC+"#owner'><x xmlns='jabber:x:data' type='submit'>"+
		field("muc#roomconfig_persistentroom", "1")+"</x></query></iq>")
	route(t, s, c["juliet"], "<iq type='set' id='d' to='"+room+"'><query xmlns='"+nsMUC+"#admin'><item jid='localhost' affiliation='member'/></query></iq>")
	route(t, s, c["romeo"], "<iq type='set' id='reg' to='"+room+"'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>"+
		field("FORM_TYPE", "http://jabber.org/protocol/muc#register")+field("muc#register_roomnick", "montague")+"</x></query></iq>")
	got := c["romeo"].take()
	if len(got) != 1 || got[0].Attr("type") != "result" {
		t.Fatalf("romeo's registration: %v", got)
	}

	rooms, err := store.Rooms(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range rooms {
		if sr.Name == "verona" {
			if sr.Nicks["romeo@localhost"] != "montague" {
				t.Fatalf("stored nicknames %v, affiliations %v: romeo's registration is not stored", sr.Nicks, sr.Affiliations)
			}
			return
		}
	}
	t.Fatal("the room is not stored")
}
