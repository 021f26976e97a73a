package muc_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/muc"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// recorder is a bound session that keeps what it gets. The service
// delivers within Route, so what a call sent is there when it returns.
type recorder struct {
	j   jid.JID
	mu  sync.Mutex
	got []*xmlstream.Element
}

func (r *recorder) JID() jid.JID { return r.j }
func (r *recorder) Deliver(st *xmlstream.Element) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, st)
	return true
}
func (r *recorder) End(condition, text string) {}

// take returns and forgets what r got.
func (r *recorder) take() []*xmlstream.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// inProcess starts a service with cfg on a router of its own, without
// sockets, and binds a recording session for each user.
func inProcess(t *testing.T, cfg muc.Config, users ...string) (*muc.Service, map[string]*recorder) {
	t.Helper()
	ctx := context.Background()
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	cfg.Domain, cfg.Store = service, postgres.NewMUC(pgtest.Pool(t))
	s, err := muc.New(ctx, r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Register()
	t.Cleanup(s.Close)
	sessions := map[string]*recorder{}
	for _, u := range users {
		sessions[u] = &recorder{j: jid.MustParse(u + "@localhost/r")}
		r.Bind(sessions[u])
	}
	return s, sessions
}

// route has s handle the XML from the session from.
func route(t *testing.T, s *muc.Service, from *recorder, xml string) {
	t.Helper()
	name, rest, _ := strings.Cut(xml, " ")
	xml = name + " xmlns='jabber:client' " + rest
	st, err := xmlstream.ParseElement([]byte(xml), xmlstream.Limits{MaxStanzaBytes: 1 << 20, MaxDepth: 32})
	if err != nil {
		t.Fatal(err)
	}
	to := jid.MustParse(st.Attr("to"))
	st.SetAttr("from", from.j.String())
	s.Route(context.Background(), from.j, to, st)
}

// An occupant sending faster than the flood limit gets resource-constraint
// (type wait) for the excess, which nobody else sees; the burst passes,
// and other occupants keep their own allowance.
func TestFloodLimit(t *testing.T) {
	t.Parallel()
	// One message in 1000 s: nothing refills while the test runs.
	s, c := inProcess(t, muc.Config{FloodRate: 0.001, FloodBurst: 3}, "juliet", "romeo")
	route(t, s, c["juliet"], "<presence to='"+room+"/jul'><x xmlns='"+nsMUC+"'/></presence>")
	route(t, s, c["juliet"], "<iq type='set' id='cfg' to='"+room+"'><query xmlns='"+nsMUC+"#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	route(t, s, c["romeo"], "<presence to='"+room+"/romeo'><x xmlns='"+nsMUC+"'/></presence>")
	c["juliet"].take()
	c["romeo"].take()

	for i := range 5 {
		route(t, s, c["romeo"], fmt.Sprintf("<message type='groupchat' to='%s' id='m%d'><body>%d</body></message>", room, i, i))
	}
	var bodies, errs []string
	for _, el := range c["romeo"].take() {
		if el.Attr("type") == "error" {
			e := el.Child("jabber:client", "error")
			if e == nil || e.Attr("type") != "wait" || e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "resource-constraint") == nil {
				t.Fatalf("flood error: %s", el)
			}
			errs = append(errs, el.Attr("id"))
			continue
		}
		bodies = append(bodies, el.Child("jabber:client", "body").Text())
	}
	if fmt.Sprint(bodies) != "[0 1 2]" || fmt.Sprint(errs) != "[m3 m4]" {
		t.Fatalf("romeo got messages %v and errors for %v; want [0 1 2] and [m3 m4]", bodies, errs)
	}
	if got := c["juliet"].take(); len(got) != 3 {
		t.Fatalf("juliet got %d stanzas, want the 3 messages", len(got))
	}
	// Private messages count too.
	route(t, s, c["romeo"], "<message type='chat' to='"+room+"/jul' id='pm'><body>psst</body></message>")
	if got := c["romeo"].take(); len(got) != 1 || got[0].Attr("type") != "error" {
		t.Fatalf("a private message over the limit: %v", got)
	}
	// So do invitations and voice requests, which the room relays.
	route(t, s, c["romeo"], "<message to='"+room+"' id='inv'><x xmlns='"+nsUser+"'><invite to='mercutio@localhost'/></x></message>")
	if got := c["romeo"].take(); len(got) != 1 || got[0].Attr("type") != "error" {
		t.Fatalf("an invitation over the limit: %v", got)
	}
	// Juliet has her own allowance.
	route(t, s, c["juliet"], "<message type='groupchat' to='"+room+"' id='j'><body>mine</body></message>")
	if got := c["romeo"].take(); len(got) != 1 || got[0].Child("jabber:client", "body").Text() != "mine" {
		t.Fatalf("juliet's message: %v", got)
	}
}
