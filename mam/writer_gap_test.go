package mam

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// countingStore records the batches the writer inserts; it implements
// only what the writer calls. A batch's commit waits for hold, if set.
type countingStore struct {
	Store
	hold    chan struct{}
	mu      sync.Mutex
	next    int64
	batches [][]string // the usernames of each batch's entries
}

func (s *countingStore) NextIDs(ctx context.Context, n int) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, n)
	for i := range ids {
		s.next++
		ids[i] = s.next
	}
	return ids, nil
}

func (s *countingStore) Insert(ctx context.Context, entries []Entry, ids []int64, stamp time.Time) ([]int64, Tx, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var users []string
	for _, e := range entries {
		users = append(users, e.Username)
	}
	s.batches = append(s.batches, users)
	return ids, heldTx{s.hold}, nil
}

func (s *countingStore) inserted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// heldTx commits once hold is closed (at once if it is nil).
type heldTx struct{ hold chan struct{} }

func (tx heldTx) Commit(context.Context) error {
	if tx.hold != nil {
		<-tx.hold
	}
	return nil
}

func (heldTx) Rollback(context.Context) error { return nil }

// startWriter runs a writer of store whose gap only ends early, or with
// the run, which the returned function ends.
func startWriter(store Store) (w *writer, stop func()) {
	w = newWriter(store, 1000, 16, slog.New(slog.DiscardHandler))
	w.gap = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.run(ctx) }()
	return w, func() { cancel(); <-stopped }
}

// waitFor waits until cond holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// submitNow submits one entry for user, failing the test if it is not
// committed within 10 seconds.
func submitNow(t *testing.T, w *writer, user string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.submit(ctx, []Entry{{Username: user}}); err != nil {
		t.Errorf("submitting %s: %v", user, err)
	}
}

// TestBatchGap checks that requests arriving while a batch is written
// wait for the gap and are written together.
func TestBatchGap(t *testing.T) {
	store := &countingStore{hold: make(chan struct{})}
	w, stop := startWriter(store)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	aDone := make(chan struct{})
	go func() { defer close(aDone); submitNow(t, w, "a") }()
	waitFor(t, "a is inserted", func() bool { return store.inserted() == 1 })
	wg.Go(func() { submitNow(t, w, "b") })
	waitFor(t, "b is queued", func() bool { return len(w.queue) == 1 })
	close(store.hold) // a commits while b waits: the writer is not idle
	<-aDone
	wg.Go(func() { submitNow(t, w, "c") })
	waitFor(t, "b and c are queued", func() bool { return len(w.queue) == 2 })
	stop() // the writer writes what is queued, then returns
	stopped = true
	wg.Wait()
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.batches) != 2 || !slices.Equal(store.batches[0], []string{"a"}) || len(store.batches[1]) != 2 {
		t.Fatalf("batches %v, want [a] then b and c together", store.batches)
	}
}

// TestIdleWriterSkipsGap checks that a writer left idle by a commit takes
// the next request at once: one sender writing message after message is
// not held to one per gap.
func TestIdleWriterSkipsGap(t *testing.T) {
	store := &countingStore{}
	w, stop := startWriter(store)
	defer stop()
	for _, u := range []string{"a", "b", "c"} {
		submitNow(t, w, u)
	}
	if n := store.inserted(); n != 3 {
		t.Fatalf("%d batches, want 3", n)
	}
}
