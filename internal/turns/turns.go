// Package turns orders what follows the changes to a shared thing (a
// roster, a blocklist): the work after a change (its pushes) runs after
// that of every change stored before it, so every resource sees the
// changes in the stored order even when they carry no version
// (RFC 6121 §2.6.3, XEP-0191 §3.3).
//
// A change takes its turn while whatever serialises the changes (the
// store, a lock) holds back every other change to the thing, so turns
// follow the stored order; it waits for the turns before it only after
// that let go. Queues.mu guards only the map, never held while waiting.
package turns

import "sync"

// Queues keeps, per key, the changes that are stored or being stored and
// whose work has not run yet. The zero value is ready to use.
type Queues struct {
	mu     sync.Mutex
	queues map[string]*queue
}

// queue is the changes of one key.
type queue struct {
	last    chan struct{} // closed when the newest turn is over
	waiting int           // turns taken and not over
}

// Turn is one change's place in its key's queue.
type Turn struct {
	qs     *Queues
	key    string
	before chan struct{} // closed when the turn before is over; nil for none
	over   chan struct{}
}

// Take queues a change of key after the ones taken before. The caller
// must call Run on the turn once, soon: later changes of key wait for it.
func (qs *Queues) Take(key string) *Turn {
	t := &Turn{qs: qs, key: key, over: make(chan struct{})}
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if qs.queues == nil {
		qs.queues = map[string]*queue{}
	}
	q := qs.queues[key]
	if q == nil {
		q = &queue{}
		qs.queues[key] = q
	}
	t.before, q.last = q.last, t.over
	q.waiting++
	return t
}

// Run waits until the turns before t are over, runs then and ends t.
// A nil t is no turn: then runs at once.
func (t *Turn) Run(then func()) {
	if t == nil {
		then()
		return
	}
	if t.before != nil {
		<-t.before
	}
	then()
	close(t.over)
	t.qs.mu.Lock()
	defer t.qs.mu.Unlock()
	if q := t.qs.queues[t.key]; q != nil {
		if q.waiting--; q.waiting == 0 {
			delete(t.qs.queues, t.key)
		}
	}
}

// Skip ends t without work, without waiting for the turns before it:
// the turns after t then wait only for those. For a change that was
// not made after all.
func (t *Turn) Skip() {
	go t.Run(func() {})
}
