package push

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"
)

// maxCached bounds the accounts whose registrations are cached; beyond
// it the cache starts again empty.
const maxCached = 100_000

// registered caches the stored registrations of the accounts that get
// messages: most have none, and asking the store at every message would
// cost a query each.
type registered struct {
	store Store
	mu    sync.Mutex
	regs  map[string][]Registration // by bare JID; absent: not loaded
	// gen counts forgets: a load that saw one start after it keeps its
	// result out of the cache.
	gen uint64
}

// cached returns account's registrations if they are cached.
func (c *registered) cached(account jid.JID) ([]Registration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	regs, ok := c.regs[account.String()]
	return regs, ok
}

// get returns account's registrations, from the store if they are not
// cached.
func (c *registered) get(ctx context.Context, account jid.JID) ([]Registration, error) {
	key := account.String()
	c.mu.Lock()
	regs, ok := c.regs[key]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return regs, nil
	}
	regs, err := c.store.List(ctx, account)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.regs) >= maxCached {
			clear(c.regs)
		}
		c.regs[key] = regs
	}
	c.mu.Unlock()
	return regs, nil
}

// forget drops account's cached registrations after a change.
func (c *registered) forget(account jid.JID) {
	c.mu.Lock()
	delete(c.regs, account.String())
	c.gen++
	c.mu.Unlock()
}
