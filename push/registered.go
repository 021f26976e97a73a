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
	// may holds, once load ran, the accounts that may have registrations
	// (they had some then, or changed since); the others have none.
	may map[string]bool
}

// load learns which accounts have registrations.
func (c *registered) load(ctx context.Context) error {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	accounts, err := c.store.Accounts(ctx)
	if err != nil {
		return err
	}
	may := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		may[a.String()] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen { // else a change came meanwhile: stay without
		c.may = may
	}
	return nil
}

// cached returns account's registrations if they are cached.
func (c *registered) cached(account jid.JID) ([]Registration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := account.String()
	if regs, ok := c.regs[key]; ok {
		return regs, true
	}
	if c.may != nil && !c.may[key] {
		return nil, true
	}
	return nil, false
}

// get returns account's registrations, from the store if they are not
// cached.
func (c *registered) get(ctx context.Context, account jid.JID) ([]Registration, error) {
	key := account.String()
	c.mu.Lock()
	regs, ok := c.regs[key]
	if c.may != nil && !c.may[key] {
		regs, ok = nil, true
	}
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
	if c.may != nil {
		c.may[account.String()] = true
	}
	c.gen++
	c.mu.Unlock()
}
