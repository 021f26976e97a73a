package roster_test

import (
	"context"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
	"xmppd/roster"
	"xmppd/router"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// A privileged entity (XEP-0356 §4.3) that sets a contact's
// subscription to from answers the contact's waiting request: the
// request is no longer stored, so it is not delivered again at the
// owner's next login (RFC 6121 §3.1.3); one that sets to ends the
// owner's own pending request (ask).
func TestPrivilegedSetAnswersPendingRequest(t *testing.T) {
	s := start(t)
	store := postgres.NewRoster(s.DB)
	ctx := context.Background()
	owner := juliet.Bare()
	if _, err := store.Update(ctx, owner, romeo.Bare(), 100, func(st roster.State) (roster.State, error) {
		st.InRoster, st.Item = true, roster.Item{Subscription: roster.None, Ask: true}
		st.PendingIn = "<presence xmlns='jabber:client' type='subscribe' from='romeo@localhost' to='juliet@localhost'/>"
		return st, nil
	}); err != nil {
		t.Fatal(err)
	}
	gateway := jid.MustParse("nurse@localhost/gateway") // any entity the function privileges
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	roster.New(roster.Config{Router: r, Store: store, MaxItems: 100,
		Privileged: func(from jid.JID, set bool) bool { return from.Equal(gateway) }}).Register()
	r.Bind(xmpptest.NewRecorder(juliet.String(), 10)) // the router knows the account
	r.Route(ctx, xmlstream.NewElement("jabber:client", "iq", "type", "set", "id", "p", "from", gateway.String(), "to", owner.String()).
		AddChild(xmlstream.NewElement(roster.NS, "query").
			AddChild(xmlstream.NewElement(roster.NS, "item", "jid", romeo.Bare().String(), "subscription", "both"))))
	st, err := store.State(ctx, owner, romeo.Bare())
	if err != nil {
		t.Fatal(err)
	}
	if st.Item.Subscription != roster.Both || st.Item.Ask || st.PendingIn != "" {
		t.Fatalf("after the privileged set: %+v, want both, no ask and no request waiting", st)
	}
}
