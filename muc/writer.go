package muc

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Defaults of the archive writer.
const (
	// DefaultBatchRows is the most messages one write stores.
	DefaultBatchRows = 1000
	// DefaultQueue is how many messages may wait for the writer.
	DefaultQueue = 8192
	// idBlock is how many ids one NextIDs call reserves.
	idBlock = 1000
)

var (
	// errBusy is returned when the writer's queue is full.
	errBusy = errors.New("muc: the room archive writer is overloaded")
	// errClosed is returned once the writer is closed.
	errClosed = errors.New("muc: the room archive is closed")
)

// writer archives the messages of every room of a service, off the rooms'
// locks, in batches: one round trip to the database for whatever was
// queued while the previous batch was being written.
//
// Ids first, writes later. A room gives a message its stanza id before it
// broadcasts it, from a block of ids reserved in advance (one NextIDs
// round trip per idBlock messages), and queues it; the writer stores it
// soon after. The alternative, mam's, is to wait under the room's lock for
// the batch insert to return the id and commit: the message is durable
// before anyone sees it, but a busy room then pays a round trip per
// message whatever the batching, since its messages cannot share a batch
// while each holds the lock. The price of ids first: a message is
// broadcast before it is committed, so a crash (or a failed write, which
// is logged) can lose from the archive the last messages that occupants
// already saw, and reserved ids unused at a restart are gaps. The sender
// is not misled: its stream management acknowledgement waits, off the
// room's lock, for the commit (Service.message), so a message the server
// acknowledged is in the archive. XEP-0313 asks for neither
// durability before delivery nor gapless ids. Readers of the archive
// (queries, history, moderation, deletion) first wait for what was queued
// before them to be written (flush), so nobody misses a message they saw.
//
// Order: ids are handed out and messages queued under one lock, and the
// writer writes the queue in order, one batch after the other; so the
// archive's order is the order of ids, which within a room is the
// broadcast order (the room's lock is held from id to broadcast), and ids
// grow in commit order, as RSM paging needs.
//
// Lock order: room.mu, then writer.mu, then writer.doneMu; writer.mu is
// held across a NextIDs call once per block.
type writer struct {
	store   Store
	service string
	maxRows int
	log     *slog.Logger

	mu       sync.Mutex // guards ids, stamp, queued, closed and sends to queue
	ids      []int64    // reserved, not yet handed out
	stamp    time.Time  // the last stamp: stamps never go back
	queued   uint64     // messages queued so far
	closed   bool
	queue    chan Message
	finished chan struct{} // closed when run has written everything

	doneMu  sync.Mutex
	written uint64        // messages written (or failed) so far
	failed  []span        // the latest batches that failed, oldest first
	changed chan struct{} // closed and replaced when written grows
}

// span is the messages first … last (1-based, in queue order) of a batch.
type span struct{ first, last uint64 }

// maxFailed bounds the failed batches remembered for wait.
const maxFailed = 64

// errNotWritten is returned by wait for a message whose batch failed.
var errNotWritten = errors.New("muc: the message could not be archived")

func newWriter(store Store, service string, maxRows, queue int, log *slog.Logger) *writer {
	return &writer{store: store, service: service, maxRows: maxRows, log: log,
		queue: make(chan Message, queue), finished: make(chan struct{}), changed: make(chan struct{})}
}

// nextID hands out a reserved id; the caller holds w.mu.
func (w *writer) nextID(ctx context.Context) (int64, error) {
	if len(w.ids) == 0 {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		ids, err := w.store.NextIDs(ctx, idBlock)
		cancel()
		if err != nil {
			return 0, err
		}
		w.ids = ids
	}
	id := w.ids[0]
	w.ids = w.ids[1:]
	return id, nil
}

// now returns a stamp no earlier than any before; the caller holds w.mu.
// Stamps are kept to the millisecond that clients are shown (stampLayout),
// so that a query ending at a message's stamp includes it (XEP-0313
// §4.1.2).
func (w *writer) now() time.Time {
	if t := time.Now().Truncate(time.Millisecond); t.After(w.stamp) {
		w.stamp = t
	}
	return w.stamp
}

// submit gives m an id and a stamp and queues it for writing; it returns
// m as queued and its place in the queue, for wait. It fails, queueing
// nothing, when the queue is full or the writer closed.
func (w *writer) submit(ctx context.Context, m Message) (Message, uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return m, 0, errClosed
	}
	if len(w.queue) == cap(w.queue) {
		return m, 0, errBusy
	}
	id, err := w.nextID(ctx)
	if err != nil {
		return m, 0, err
	}
	m.ID, m.Stamp = id, w.now()
	w.queue <- m // cannot block: only senders holding w.mu fill it
	w.queued++
	return m, w.queued, nil
}

// reserve gives m an id and a stamp without queueing it, for a message
// that the caller writes itself (a retraction, in its transaction).
func (w *writer) reserve(ctx context.Context, m Message) (Message, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, err := w.nextID(ctx)
	m.ID, m.Stamp = id, w.now()
	return m, err
}

// flush waits until every message queued before the call is written.
func (w *writer) flush(ctx context.Context) error {
	w.mu.Lock()
	target := w.queued
	w.mu.Unlock()
	return w.waitFor(ctx, target, false)
}

// wait waits until the message queued in place seq (from submit) is
// written, and returns errNotWritten if its batch failed.
func (w *writer) wait(ctx context.Context, seq uint64) error {
	return w.waitFor(ctx, seq, true)
}

// waitFor waits until the first target messages are written; with check,
// it reports whether the message in place target failed.
func (w *writer) waitFor(ctx context.Context, target uint64, check bool) error {
	for {
		w.doneMu.Lock()
		done, changed := w.written >= target, w.changed
		failed := check && done && slices.ContainsFunc(w.failed, func(f span) bool { return f.first <= target && target <= f.last })
		w.doneMu.Unlock()
		if failed {
			return errNotWritten
		}
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run writes batches until close, then what is still queued.
func (w *writer) run() {
	defer close(w.finished)
	for m := range w.queue {
		batch := []Message{m}
	collect:
		for len(batch) < w.maxRows {
			select {
			case m, ok := <-w.queue:
				if !ok {
					break collect
				}
				batch = append(batch, m)
			default:
				break collect
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := w.store.Write(ctx, w.service, batch)
		cancel()
		if err != nil {
			w.log.Error("archiving room messages", "service", w.service, "messages", len(batch), "err", err)
		}
		w.doneMu.Lock()
		if err != nil {
			w.failed = append(w.failed, span{w.written + 1, w.written + uint64(len(batch))})
			if len(w.failed) > maxFailed {
				w.failed = w.failed[1:]
			}
		}
		w.written += uint64(len(batch))
		close(w.changed)
		w.changed = make(chan struct{})
		w.doneMu.Unlock()
	}
}

// close stops taking messages and returns once the queued ones are
// written.
func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.finished
}
