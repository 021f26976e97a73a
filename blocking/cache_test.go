package blocking

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// memStore is a Store in memory that counts List calls and can fail them.
type memStore struct {
	mu    sync.Mutex
	lists map[string][]jid.JID
	reads atomic.Int64
	fail  atomic.Bool
}

func (s *memStore) List(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	s.reads.Add(1)
	if s.fail.Load() {
		return nil, errors.New("database down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]jid.JID(nil), s.lists[account.String()]...), nil
}

func (s *memStore) Block(ctx context.Context, account jid.JID, items []jid.JID) ([]jid.JID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists[account.String()] = append(s.lists[account.String()], items...)
	return items, nil
}

func (s *memStore) Unblock(ctx context.Context, account jid.JID, items []jid.JID) ([]jid.JID, error) {
	return nil, errors.New("not used")
}

func (s *memStore) UnblockAll(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	return nil, errors.New("not used")
}

func TestCacheLoadsOnceAndStaysBounded(t *testing.T) {
	ctx := context.Background()
	store := &memStore{lists: map[string][]jid.JID{"juliet@localhost": {jid.MustParse("romeo@localhost")}}}
	c := newCache(store, 32, time.Second)
	juliet := jid.MustParse("juliet@localhost")

	// Concurrent first uses share one load.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			l, err := c.get(ctx, juliet)
			if err != nil || !l.has(jid.MustParse("romeo@localhost")) {
				t.Errorf("get = %v, %v", l, err)
			}
		})
	}
	wg.Wait()
	if n := store.reads.Load(); n != 1 {
		t.Fatalf("%d loads for one account, want 1", n)
	}

	// Many accounts: the cache keeps to its bound.
	for i := range 1000 {
		if _, err := c.get(ctx, jid.MustParse(fmt.Sprintf("user%d@localhost", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.len(); n > 32 {
		t.Fatalf("%d accounts cached, bound 32", n)
	}

	// An evicted account is loaded again, with its change.
	turn, err := c.update(ctx, juliet, func(ctx context.Context, cur *blocklist) (*blocklist, error) {
		added, err := store.Block(ctx, juliet, []jid.JID{jid.MustParse("tybalt@localhost")})
		return cur.with(added), err
	})
	if err != nil {
		t.Fatal(err)
	}
	turn.Run(func() {})
	for i := range 1000 {
		c.get(ctx, jid.MustParse(fmt.Sprintf("other%d@localhost", i)))
	}
	l, err := c.get(ctx, juliet)
	if err != nil || l.len() != 2 {
		t.Fatalf("juliet's list after eviction: %v, %v", l, err)
	}
}

func TestCacheRetriesFailedLoad(t *testing.T) {
	ctx := context.Background()
	store := &memStore{lists: map[string][]jid.JID{}}
	c := newCache(store, 10, time.Second)
	juliet := jid.MustParse("juliet@localhost")
	store.fail.Store(true)
	if _, err := c.get(ctx, juliet); err == nil {
		t.Fatal("get succeeded with the database down")
	}
	store.fail.Store(false)
	if l, err := c.get(ctx, juliet); err != nil || l.len() != 0 {
		t.Fatalf("get after recovery = %v, %v", l, err)
	}
}

// peek answers from memory only: it never reads the store, and tells a
// list it has not (or could not) load from an empty one.
func TestCachePeekNeverLoads(t *testing.T) {
	ctx := context.Background()
	store := &memStore{lists: map[string][]jid.JID{"juliet@localhost": {jid.MustParse("romeo@localhost")}}}
	c := newCache(store, 10, time.Second)
	juliet := jid.MustParse("juliet@localhost")
	k := split(juliet)
	if _, ok := c.peek(k); ok || store.reads.Load() != 0 {
		t.Fatalf("peek of an uncached list: ok %v after %d reads, want a miss and no read", ok, store.reads.Load())
	}
	if _, err := c.get(ctx, juliet); err != nil {
		t.Fatal(err)
	}
	if l, ok := c.peek(k); !ok || !l.has(jid.MustParse("romeo@localhost")) {
		t.Fatalf("peek of a cached list = %v, %v", l, ok)
	}
	c.drop(juliet)
	if _, ok := c.peek(k); ok {
		t.Fatal("peek found a dropped list")
	}
	store.fail.Store(true)
	if _, err := c.get(ctx, juliet); err == nil {
		t.Fatal("get succeeded with the database down")
	}
	if _, ok := c.peek(k); ok {
		t.Fatal("peek found a list that failed to load")
	}
	if n := store.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2 (the gets)", n)
	}
}
