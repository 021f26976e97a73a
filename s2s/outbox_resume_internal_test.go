package s2s

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"xmppd/router"
)

// memOutbox is an Outbox in memory that holds kept messages for a
// claimer that is gone, and records what is removed.
type memOutbox struct {
	mu      sync.Mutex
	kept    []Kept
	removed []int64
}

func (m *memOutbox) Add(context.Context, string, string, string, []byte) (int64, error) {
	return 0, fmt.Errorf("not used")
}

func (m *memOutbox) Remove(_ context.Context, ids []int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removed = append(m.removed, ids...)
	return nil
}

func (m *memOutbox) Claim(context.Context, string, []string, time.Duration) ([]Kept, error) {
	return m.kept, nil
}

// TestResumeMoreThanTheQueue: after a crash, the outbox may hold more
// messages for one domain than its queue takes (up to maxUnacked were
// written and not acknowledged, and QueueSize more queued). The next start
// sends them all, in order; none is bounced (and so taken out of the
// outbox) because the queue of a stream that has not connected yet is
// full.
func TestResumeMoreThanTheQueue(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := pair{local: "b.test", remote: "peer.test"}
	box := &memOutbox{}
	for i := 1; i <= 10; i++ {
		box.kept = append(box.kept, Kept{ID: int64(i), Local: p.local, Remote: p.remote,
			Stanza: fmt.Appendf(nil, "<message xmlns='jabber:client' from='bob@b.test/x' to='pat@peer.test' type='chat'><body>%d</body></message>", i)})
	}
	s := New(Config{
		QueueSize:      4,
		ConnectTimeout: time.Minute,
		Routes:         map[string]string{p.remote: l.Addr().String()},
		Outbox:         box,
	}, router.New(router.Config{Hosts: []string{p.local}}))
	defer s.Shutdown(context.Background())

	if err := s.Resume(context.Background(), []string{s.Claimer()}, 0); err != nil {
		t.Fatal(err)
	}
	box.mu.Lock()
	removed := box.removed
	box.mu.Unlock()
	if len(removed) > 0 {
		t.Fatalf("messages %v were bounced and taken out of the outbox at the start, before their stream connected", removed)
	}
}
