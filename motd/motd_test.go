package motd

import (
	"context"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/router"
)

// slowStore is a host's message in memory whose first Get returns the
// message as it was, after the test lets it go on.
type slowStore struct {
	mu      sync.Mutex
	body    string
	reading chan struct{} // closed when the first Get has read
	goOn    chan struct{} // closed by the test to let it return
	once    sync.Once
}

func (s *slowStore) Get(ctx context.Context, host string) (string, error) {
	s.mu.Lock()
	body := s.body
	s.mu.Unlock()
	s.once.Do(func() {
		close(s.reading)
		<-s.goOn
	})
	return body, nil
}

func (s *slowStore) Set(ctx context.Context, host, body string) error {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
	return nil
}

func (s *slowStore) Delete(ctx context.Context, host string) error { return s.Set(ctx, host, "") }

func (s *slowStore) Deliver(ctx context.Context, account jid.JID) (bool, error) { return true, nil }

// TestChangeDuringRead does not cache a message read while it changed: a
// login that read the old one must not make later logins get it too.
func TestChangeDuringRead(t *testing.T) {
	st := &slowStore{body: "old", reading: make(chan struct{}), goOn: make(chan struct{})}
	m := &Module{store: st, r: router.New(router.Config{Hosts: []string{"localhost"}}), cached: map[string]string{}}
	ctx := context.Background()
	read := make(chan string)
	go func() {
		body, _ := m.current(ctx, "localhost")
		read <- body
	}()
	<-st.reading
	if err := m.Set(ctx, "localhost", "new"); err != nil {
		t.Fatal(err)
	}
	close(st.goOn)
	if body := <-read; body != "old" {
		t.Fatalf("the read begun before the change got %q", body)
	}
	if body, _ := m.current(ctx, "localhost"); body != "new" {
		t.Fatalf("after the change the message is %q, want new", body)
	}
}
