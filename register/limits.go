package register

import (
	"sync"
	"time"
)

// maxTracked bounds the addresses the limiter and the preauth table
// remember, so that a flood of addresses cannot exhaust memory.
const maxTracked = 10000

// preauthTTL is how long a token accepted by a preauth IQ stays attached
// to its connection: longer than stream negotiation may last.
const preauthTTL = 10 * time.Minute

// limiter counts registrations per address over a sliding window. It is
// safe for concurrent use.
type limiter struct {
	max    int // per window; 0: no limit
	window time.Duration
	size   int // most addresses remembered

	mu   sync.Mutex
	seen map[string][]time.Time // by address key: start times within the window
}

func newLimiter(max int, window time.Duration, size int) *limiter {
	return &limiter{max: max, window: window, size: size, seen: map[string][]time.Time{}}
}

// reserve takes one registration from key's allowance at now, and reports
// false when none is left. A registration that then fails gives its slot
// back with release, so that only accounts created count.
func (l *limiter) reserve(key string, now time.Time) bool {
	if l.max <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.recent(key, now)
	if len(times) >= l.max {
		return false
	}
	if times == nil && len(l.seen) >= l.size {
		for k := range l.seen {
			l.recent(k, now)
		}
		if len(l.seen) >= l.size {
			// So many addresses registered within the window is itself a
			// flood: refuse newcomers until it passes.
			return false
		}
	}
	l.seen[key] = append(times, now)
	return true
}

// release gives back the slot reserve took at t.
func (l *limiter) release(key string, t time.Time) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.seen[key]
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(t) {
			times = append(times[:i], times[i+1:]...)
			break
		}
	}
	if len(times) == 0 {
		delete(l.seen, key)
	} else {
		l.seen[key] = times
	}
}

// recent drops key's times older than the window and returns the rest.
// l.mu is held.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	times := l.seen[key]
	i := 0
	for i < len(times) && !times[i].After(now.Add(-l.window)) {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.seen, key)
		return nil
	}
	l.seen[key] = times
	return times
}

// preauth is a token a connection presented with the XEP-0445 preauth IQ.
type preauth struct {
	domain, token string
	at            time.Time // when it was checked: its expiry counts from there
}

// preauths remembers accepted preauth tokens per connection until the
// registration that uses them. It is safe for concurrent use.
type preauths struct {
	ttl  time.Duration
	size int

	mu     sync.Mutex
	byConn map[string]preauth
}

func newPreauths(ttl time.Duration, size int) *preauths {
	return &preauths{ttl: ttl, size: size, byConn: map[string]preauth{}}
}

// put attaches p to the connection conn.
func (ps *preauths) put(conn string, p preauth) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.byConn) >= ps.size {
		for k, old := range ps.byConn {
			if p.at.Sub(old.at) > ps.ttl {
				delete(ps.byConn, k)
			}
		}
		if len(ps.byConn) >= ps.size {
			// Full of live entries: forget an arbitrary one; its client
			// can still send the token in the form.
			for k := range ps.byConn {
				delete(ps.byConn, k)
				break
			}
		}
	}
	ps.byConn[conn] = p
}

// get returns the token conn presented for domain, if it is recent.
func (ps *preauths) get(conn, domain string, now time.Time) (preauth, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p, ok := ps.byConn[conn]
	if !ok || p.domain != domain || now.Sub(p.at) > ps.ttl {
		return preauth{}, false
	}
	return p, true
}

// drop forgets conn's token once it was used.
func (ps *preauths) drop(conn string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.byConn, conn)
}
