package blocking

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/internal/turns"
)

// cache keeps the blocklists of recently used accounts, loading each from
// the store on first use. It is split into shards so that concurrent
// checks for different accounts rarely wait for the same lock; each shard
// forgets its least recently used accounts beyond its share of the bound.
//
// Locks: shard.mu guards a shard's map, LRU order and pins, and is never
// held while the store is asked. entry.write serialises the changes of
// one account and is held across the store call of a change; it is taken
// without shard.mu held. A change takes its turn (turns.Queues.Take)
// under entry.write and runs it after letting go.
type cache struct {
	store   Store
	timeout time.Duration
	changed func(account jid.JID) // nil, or told of each stored change (Config.Changed)
	turns   turns.Queues          // orders each account's pushes (update)
	shards  [16]shard
}

type shard struct {
	mu      sync.Mutex
	max     int
	entries map[address]*entry
	lru     list.List // of *entry, most recently used first
}

// entry is one account's cached blocklist.
type entry struct {
	key   address
	elem  *list.Element
	pins  int           // changes under way; a pinned entry is never evicted
	ready chan struct{} // closed once loading ended
	err   error         // why loading failed; read only after ready is closed
	list  atomic.Pointer[blocklist]
	write sync.Mutex
}

func newCache(store Store, bound int, timeout time.Duration) *cache {
	c := &cache{store: store, timeout: timeout}
	per := (bound + len(c.shards) - 1) / len(c.shards)
	for i := range c.shards {
		c.shards[i].max = max(per, 1)
		c.shards[i].entries = map[address]*entry{}
	}
	return c
}

// get returns the blocklist of account (a bare JID).
func (c *cache) get(ctx context.Context, account jid.JID) (*blocklist, error) {
	return c.lookup(ctx, split(account).account())
}

// lookup returns the blocklist of the account k.
func (c *cache) lookup(ctx context.Context, k address) (*blocklist, error) {
	return c.wait(ctx, c.acquire(ctx, k, false), k)
}

// peek returns the blocklist of the account k if it is cached, without
// loading it or waiting for a load under way: ok is false then.
func (c *cache) peek(k address) (l *blocklist, ok bool) {
	s := c.shard(k)
	s.mu.Lock()
	e := s.entries[k]
	if e != nil {
		s.lru.MoveToFront(e.elem)
	}
	s.mu.Unlock()
	if e == nil || !e.loaded() || e.err != nil {
		return nil, false
	}
	return e.list.Load(), true
}

// update changes the blocklist of account by change, which gets the
// current list and returns the next one, after making the change durable.
// Changes of one account run one at a time.
//
// A change (a next list other than cur) also gets its turn: the caller
// pushes the change in t.Run, and so in the order the changes of
// account were stored (XEP-0191 §3.3, §3.4 pushes carry no version).
// The caller must call t.Run once, soon: later changes wait for it.
// Without a change, or on error, t is nil.
func (c *cache) update(ctx context.Context, account jid.JID, change func(ctx context.Context, cur *blocklist) (*blocklist, error)) (t *turns.Turn, err error) {
	k := split(account).account()
	e := c.acquire(ctx, k, true)
	defer c.unpin(k, e)
	if _, err := c.wait(ctx, e, k); err != nil {
		return nil, err
	}
	e.write.Lock()
	defer e.write.Unlock()
	// Taken under e.write, so turns follow the stored order; keyed by
	// account, not kept in e, which may be dropped and loaded again.
	t = c.turns.Take(account.String())
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cur := e.list.Load()
	next, err := change(ctx, cur)
	if err != nil {
		t.Skip()
		// The store may have made the change even so (e.g. a commit that
		// timed out); the next use reads the list again.
		c.forget(e)
		return nil, err
	}
	e.list.Store(next)
	if next == cur {
		t.Skip()
		return nil, nil
	}
	if c.changed != nil {
		c.changed(account)
	}
	return t, nil
}

// drop forgets the cached blocklist of account, which changed elsewhere;
// the next use reads it again.
func (c *cache) drop(account jid.JID) {
	k := split(account).account()
	s := c.shard(k)
	s.mu.Lock()
	if e := s.entries[k]; e != nil {
		delete(s.entries, k)
		s.lru.Remove(e.elem)
	}
	s.mu.Unlock()
}

// dropAll forgets every cached blocklist; the next use of each reads it
// again. Loads and changes under way finish on entries no longer cached.
func (c *cache) dropAll() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.entries {
			delete(s.entries, k)
			s.lru.Remove(e.elem)
		}
		s.mu.Unlock()
	}
}

// shard picks k's shard by an FNV-1a hash of the account, cheaper than a
// map hash of the whole address for these short strings.
func (c *cache) shard(k address) *shard {
	h := uint32(2166136261)
	for _, s := range [2]string{k.local, k.domain} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	return &c.shards[h%uint32(len(c.shards))]
}

// acquire returns the entry of account k, creating and loading it when it
// is not cached; pin keeps it from eviction until unpin.
func (c *cache) acquire(ctx context.Context, k address, pin bool) *entry {
	s := c.shard(k)
	s.mu.Lock()
	e := s.entries[k]
	if e != nil {
		s.lru.MoveToFront(e.elem)
		if pin {
			e.pins++
		}
		s.mu.Unlock()
		return e
	}
	e = &entry{key: k, ready: make(chan struct{})}
	if pin {
		e.pins++
	}
	e.elem = s.lru.PushFront(e)
	s.entries[k] = e
	s.evict()
	s.mu.Unlock()
	c.load(ctx, e)
	return e
}

// load reads the blocklist of e's account. Its own deadline, not the
// caller's, bounds it: other callers may be waiting for it too.
func (c *cache) load(ctx context.Context, e *entry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	account, err := jid.New(e.key.local, e.key.domain, "")
	var items []jid.JID
	if err == nil {
		items, err = c.store.List(ctx, account)
	}
	if err != nil {
		e.err = fmt.Errorf("loading the blocklist of %s: %w", e.key, err)
		c.forget(e) // the next caller tries again
	} else {
		e.list.Store(newBlocklist(items))
	}
	close(e.ready)
}

// wait returns e's blocklist once it is loaded.
func (c *cache) wait(ctx context.Context, e *entry, account address) (*blocklist, error) {
	select {
	case <-e.ready:
	default:
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the blocklist of %s: %w", account, ctx.Err())
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.list.Load(), nil
}

// forget drops e from the cache, if it is still there.
func (c *cache) forget(e *entry) {
	s := c.shard(e.key)
	s.mu.Lock()
	if s.entries[e.key] == e {
		delete(s.entries, e.key)
		s.lru.Remove(e.elem)
	}
	s.mu.Unlock()
}

func (c *cache) unpin(k address, e *entry) {
	s := c.shard(k)
	s.mu.Lock()
	e.pins--
	s.evict()
	s.mu.Unlock()
}

// evict forgets the least recently used entries beyond the shard's bound,
// skipping those being loaded or changed. s.mu is held.
func (s *shard) evict() {
	for el := s.lru.Back(); el != nil && len(s.entries) > s.max; {
		e := el.Value.(*entry)
		prev := el.Prev()
		if e.pins == 0 && e.loaded() {
			s.lru.Remove(el)
			delete(s.entries, e.key)
		}
		el = prev
	}
}

func (e *entry) loaded() bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// len returns the number of cached accounts, for tests.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}
