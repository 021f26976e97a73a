package auth

import (
	"container/list"
	"sync"
	"time"
)

// throttle remembers recent authentication failures per remote host and
// computes the delay before a failure is reported: base·2^(n-1) for the n-th
// recent failure, capped at max. The count drops by one per decay interval
// without failures; a success does not lower it. At most limit hosts are
// remembered, the least recently failing one is evicted first.
type throttle struct {
	base, max, decay time.Duration
	limit            int
	now              func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element // of *throttleEntry
	order   list.List                // most recent failure at the front
}

type throttleEntry struct {
	key   string
	count int
	last  time.Time
}

func newThrottle(base, max, decay time.Duration, limit int, now func() time.Time) *throttle {
	return &throttle{base: base, max: max, decay: decay, limit: limit, now: now, entries: make(map[string]*list.Element)}
}

// failure records a failure from key and returns the delay to apply.
func (t *throttle) failure(key string) time.Duration {
	if t.base <= 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var e *throttleEntry
	if el, ok := t.entries[key]; ok {
		e = el.Value.(*throttleEntry)
		e.count = t.decayed(e, now)
		t.order.MoveToFront(el)
	} else {
		for len(t.entries) >= t.limit {
			t.evictOldest()
		}
		e = &throttleEntry{key: key}
		t.entries[key] = t.order.PushFront(e)
	}
	// Forget entries that have fully decayed, a few at a time.
	for range 2 {
		back := t.order.Back()
		if back == nil || back.Value == e || t.decayed(back.Value.(*throttleEntry), now) > 0 {
			break
		}
		t.evictOldest()
	}
	e.count++
	e.last = now
	return t.delay(e.count)
}

// pending returns the count of recent failures remembered for key.
func (t *throttle) pending(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		return t.decayed(el.Value.(*throttleEntry), t.now())
	}
	return 0
}

func (t *throttle) evictOldest() {
	back := t.order.Back()
	if back == nil {
		return
	}
	t.order.Remove(back)
	delete(t.entries, back.Value.(*throttleEntry).key)
}

// decayed returns e's count after the decay since its last failure.
func (t *throttle) decayed(e *throttleEntry, now time.Time) int {
	elapsed := now.Sub(e.last)
	if elapsed <= 0 || t.decay <= 0 {
		return e.count
	}
	steps := elapsed / t.decay
	if steps >= time.Duration(e.count) {
		return 0
	}
	return e.count - int(steps)
}

// delay returns the delay for the n-th recent failure.
func (t *throttle) delay(n int) time.Duration {
	d := t.base
	for i := 1; i < n && d < t.max; i++ {
		d *= 2
	}
	return min(d, t.max)
}
