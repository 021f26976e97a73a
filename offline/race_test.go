package offline

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// gateStore is an in-memory Store whose first Add waits at the gate, as a
// commit to a busy database does.
type gateStore struct {
	adding, proceed chan struct{}
	once            sync.Once
	mu              sync.Mutex
	next            int64
	msgs            []Message
	claimed         map[int64]bool
}

func (s *gateStore) Add(ctx context.Context, domain, username string, st []byte, archiveID int64, max int) error {
	s.once.Do(func() { close(s.adding); <-s.proceed })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.msgs = append(s.msgs, Message{ID: s.next, Stanza: st, Stamp: time.Now()})
	return nil
}

func (s *gateStore) DeleteArchived(ctx context.Context, domain, username, claimer string) (int64, error) {
	return 0, nil // no archive here
}

func (s *gateStore) Claim(ctx context.Context, domain, username, claimer string, limit int) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if !s.claimed[m.ID] && len(out) < limit {
			s.claimed[m.ID] = true
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *gateStore) Unclaim(ctx context.Context, domain, username string, ids []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.claimed, id)
	}
	return nil
}

func (s *gateStore) Delete(ctx context.Context, domain, username string, ids []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	del := map[int64]bool{}
	for _, id := range ids {
		del[id] = true
	}
	kept := s.msgs[:0]
	for _, m := range s.msgs {
		if !del[m.ID] {
			kept = append(kept, m)
		}
	}
	s.msgs = kept
	return nil
}

// fakeSession records the messages delivered to it.
type fakeSession struct {
	j    jid.JID
	msgs chan *xmlstream.Element
}

func (f *fakeSession) JID() jid.JID { return f.j }
func (f *fakeSession) Deliver(st *xmlstream.Element) bool {
	if st.Name.Local == "message" {
		f.msgs <- st
	}
	return true
}
func (f *fakeSession) End(condition, text string) {}

// TestStoredWhileResourceComesOnline: juliet has a resource at negative
// priority (it never gets messages to her bare JID) when a message to
// her bare JID goes to offline storage; while it is being committed, a
// second resource sends initial presence with priority 0 and finds
// nothing stored yet. Once committed, Store looks for an online session to
// hand the message to: it must be the resource that takes offline
// messages, not only the first one listed, or the message waits in
// storage while she is online.
func TestStoredWhileResourceComesOnline(t *testing.T) {
	ctx := context.Background()
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	store := &gateStore{adding: make(chan struct{}), proceed: make(chan struct{}), claimed: map[int64]bool{}}
	if _, err := Register(r, Config{Store: store}); err != nil {
		t.Fatal(err)
	}
	presence := func(from, body string) *xmlstream.Element {
		return parse(t, "<presence xmlns='jabber:client' from='"+from+"'>"+body+"</presence>")
	}
	bot := &fakeSession{j: jid.MustParse("juliet@localhost/bot"), msgs: make(chan *xmlstream.Element, 10)}
	r.Bind(bot)
	r.FromClient(ctx, presence(bot.j.String(), "<priority>-1</priority>"))

	routed := make(chan struct{})
	go func() {
		defer close(routed)
		r.Route(ctx, parse(t, "<message xmlns='jabber:client' from='romeo@localhost/orchard' to='juliet@localhost' type='chat'><body>hi</body></message>"))
	}()
	<-store.adding
	phone := &fakeSession{j: jid.MustParse("juliet@localhost/phone"), msgs: make(chan *xmlstream.Element, 10)}
	r.Bind(phone)
	r.FromClient(ctx, presence(phone.j.String(), ""))
	close(store.proceed)
	<-routed

	select {
	case m := <-phone.msgs:
		if m.Child("jabber:client", "body").Text() != "hi" {
			t.Fatalf("got %s", m)
		}
	default:
		t.Fatalf("juliet's phone is online with priority 0 and did not get the message; %d stay stored", len(store.msgs))
	}
	if len(bot.msgs) != 0 {
		t.Fatal("the negative-priority resource got the message")
	}
}

// pausingStore is a gateStore whose first Claim, once it has claimed,
// waits at a gate: a login is between two batches of its messages.
type pausingStore struct {
	*gateStore
	claims          atomic.Int32
	claimed, resume chan struct{}
}

func (s *pausingStore) Claim(ctx context.Context, domain, username, claimer string, limit int) ([]Message, error) {
	msgs, err := s.gateStore.Claim(ctx, domain, username, claimer, limit)
	if s.claims.Add(1) == 1 {
		close(s.claimed)
		<-s.resume
	}
	return msgs, err
}

// TestTwoResourcesDoNotSplitTheBacklog: juliet has more messages stored
// than one batch holds; her phone sends initial presence, and while its
// first batch is on its way, her desk sends its own. XEP-0160 hands the
// messages to the first resource: the phone gets all of them, in order,
// and the desk none, instead of every other batch each.
func TestTwoResourcesDoNotSplitTheBacklog(t *testing.T) {
	ctx := context.Background()
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	const n = 2*batchSize + 50
	store := &pausingStore{gateStore: &gateStore{claimed: map[int64]bool{}}, claimed: make(chan struct{}), resume: make(chan struct{})}
	for i := range n {
		st := "<message xmlns='jabber:client' from='romeo@localhost/orchard' to='juliet@localhost' type='chat'><body>" + strconv.Itoa(i) + "</body></message>"
		store.msgs = append(store.msgs, Message{ID: int64(i + 1), Stanza: []byte(st), Stamp: time.Now()})
	}
	if _, err := Register(r, Config{Store: store}); err != nil {
		t.Fatal(err)
	}
	presence := func(from string) *xmlstream.Element {
		return parse(t, "<presence xmlns='jabber:client' from='"+from+"'/>")
	}
	phone := &fakeSession{j: jid.MustParse("juliet@localhost/phone"), msgs: make(chan *xmlstream.Element, n)}
	desk := &fakeSession{j: jid.MustParse("juliet@localhost/desk"), msgs: make(chan *xmlstream.Element, n)}
	r.Bind(phone)
	r.Bind(desk)

	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		r.FromClient(ctx, presence(phone.j.String()))
	}()
	<-store.claimed // the phone's first batch is claimed
	r.FromClient(ctx, presence(desk.j.String()))
	close(store.resume)
	<-flushed

	if len(desk.msgs) != 0 {
		t.Errorf("the desk, which came online second, got %d of the %d messages; want none", len(desk.msgs), n)
	}
	if len(phone.msgs) != n {
		t.Fatalf("the phone, which came online first, got %d of the %d messages; want all", len(phone.msgs), n)
	}
	for i := range n {
		if body := (<-phone.msgs).Child("jabber:client", "body").Text(); body != strconv.Itoa(i) {
			t.Fatalf("message %d of the phone is %q; want them in the order stored", i, body)
		}
	}
}
