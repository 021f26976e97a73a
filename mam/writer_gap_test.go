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
// only what the writer calls.
type countingStore struct {
	Store
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
	return ids, nopTx{}, nil
}

type nopTx struct{}

func (nopTx) Commit(context.Context) error   { return nil }
func (nopTx) Rollback(context.Context) error { return nil }

// TestBatchGap checks that a request is written at once when no batch
// was formed within the gap, and that requests arriving within the gap
// wait and are written together.
func TestBatchGap(t *testing.T) {
	store := &countingStore{}
	w := newWriter(store, 1000, 16, slog.New(slog.DiscardHandler))
	w.gap = time.Hour // only the end of the run ends this test's pause
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.run(ctx) }()
	defer func() { cancel(); <-stopped }()

	if _, err := w.submit(context.Background(), []Entry{{Username: "a"}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, u := range []string{"b", "c"} {
		wg.Go(func() {
			if _, err := w.submit(context.Background(), []Entry{{Username: u}}); err != nil {
				t.Error(err)
			}
		})
	}
	// Both wait in the queue while the writer pauses.
	deadline := time.Now().Add(10 * time.Second)
	for len(w.queue) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want 2: the writer did not pause", len(w.queue))
		}
		runtime.Gosched()
	}
	cancel() // the writer writes what is queued, then returns
	<-stopped
	wg.Wait()
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.batches) != 2 || !slices.Equal(store.batches[0], []string{"a"}) || len(store.batches[1]) != 2 {
		t.Fatalf("batches %v, want [a] then b and c together", store.batches)
	}
}
