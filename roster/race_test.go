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

// requests counts the subscription requests from from that s got.
func requests(s *xmpptest.Recorder, from jid.JID) int {
	n := 0
	for len(s.Got) > 0 {
		if st := <-s.Got; st.Attr("type") == "subscribe" && st.Attr("from") == from.Bare().String() {
			n++
		}
	}
	return n
}

// pausingStore is the real roster store, which tells paused and waits
// for resume at one point: after storing a change of owner's roster
// (afterUpdate) or before loading the grants to owner for its probes.
type pausingStore struct {
	roster.Store
	owner          jid.JID
	afterUpdate    bool
	paused, resume chan struct{}
}

func (p *pausingStore) pause(owner jid.JID, here bool) {
	if here && owner.Equal(p.owner) {
		close(p.paused)
		<-p.resume
	}
}

func (p *pausingStore) Update(ctx context.Context, owner, contact jid.JID, max int, f func(roster.State) (roster.State, error)) (roster.Change, error) {
	ch, err := p.Store.Update(ctx, owner, contact, max, f)
	p.pause(owner, p.afterUpdate)
	return ch, err
}

func (p *pausingStore) Grants(ctx context.Context, user jid.JID) ([]roster.Grant, error) {
	p.pause(user, !p.afterUpdate)
	return p.Store.Grants(ctx, user)
}

var (
	juliet = jid.MustParse("juliet@localhost/balcony")
	romeo  = jid.MustParse("romeo@localhost/orchard")
)

// raceSetup is a router with the roster module over store and the
// bound sessions of juliet and romeo, neither available yet.
func raceSetup(t *testing.T, store roster.Store) (r *router.Router, romeoSession *xmpptest.Recorder) {
	r = router.New(router.Config{Hosts: []string{"localhost"}})
	roster.New(roster.Config{Router: r, Store: store, MaxItems: 100}).Register()
	romeoSession = xmpptest.NewRecorder(romeo.String(), 100)
	r.Bind(xmpptest.NewRecorder(juliet.String(), 100))
	r.Bind(romeoSession)
	return r, romeoSession
}

// in runs f on a goroutine and returns a channel closed when it is done.
func in(f func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		f()
		close(done)
	}()
	return done
}

func request(r *router.Router) func() {
	return func() {
		r.FromClient(context.Background(), xmlstream.NewElement("jabber:client", "presence",
			"from", juliet.String(), "to", romeo.Bare().String(), "type", "subscribe"))
	}
}

func goOnline(r *router.Router) func() {
	return func() {
		r.FromClient(context.Background(), xmlstream.NewElement("jabber:client", "presence", "from", romeo.String()))
	}
}

// A subscription request stored while the recipient's session becomes
// available reaches that session once: live or with the stored requests
// its initial presence reads, not both. Here the request is held between
// being stored and being delivered live while romeo becomes available;
// his initial presence then finds it stored.
func TestRequestStoredAsSessionBecomesAvailable(t *testing.T) {
	s := start(t)
	store := &pausingStore{Store: postgres.NewRoster(s.DB), owner: romeo.Bare(), afterUpdate: true,
		paused: make(chan struct{}), resume: make(chan struct{})}
	r, rs := raceSetup(t, store)

	requested := in(request(r))
	<-store.paused
	online := in(goOnline(r))
	// His own presence comes back to him once the router has him
	// available, before the presence handler reads what is stored.
	if own := <-rs.Got; own.Name.Local != "presence" || own.Attr("from") != romeo.String() {
		t.Fatalf("romeo got %s first, want his own presence", own)
	}
	close(store.resume)
	<-requested
	<-online
	if n := requests(rs, juliet); n != 1 {
		t.Fatalf("romeo got juliet's subscription request %d times, want once", n)
	}
}

// A request stored after the initial presence read the stored ones, but
// while the presence is still being handled (here: while it probes
// romeo's contacts), is delivered live.
func TestRequestStoredAfterInitialPresenceRead(t *testing.T) {
	s := start(t)
	real := postgres.NewRoster(s.DB)
	nurse := jid.MustParse("nurse@localhost")
	// romeo has a contact to probe.
	if _, err := real.Update(context.Background(), romeo.Bare(), nurse, 100, func(st roster.State) (roster.State, error) {
		st.InRoster, st.Item.Subscription = true, roster.To
		return st, nil
	}); err != nil {
		t.Fatal(err)
	}
	store := &pausingStore{Store: real, owner: romeo.Bare(),
		paused: make(chan struct{}), resume: make(chan struct{})}
	r, rs := raceSetup(t, store)

	online := in(goOnline(r))
	<-store.paused
	<-in(request(r))
	close(store.resume)
	<-online
	if n := requests(rs, juliet); n != 1 {
		t.Fatalf("romeo got juliet's subscription request %d times, want once", n)
	}
}
