package mam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// errBusy is returned when the writer's queue is full: the database does
// not keep up, and the one message fails instead of every session
// waiting (DESIGN.md §4).
var errBusy = errors.New("mam: the archive writer is overloaded")

// errClosed is returned after Close.
var errClosed = errors.New("mam: the archive is closed")

// request is one Archive call waiting for its batch.
type request struct {
	entries []Entry
	ids     []int64
	err     error
	done    chan struct{} // closed when ids or err are set
}

// writer is the group commit, in two stages. The inserter goroutine
// takes every request queued while the previous batch was being inserted,
// up to maxRows rows, and inserts them with one Store.Insert in a new
// transaction; the committer goroutine commits those transactions one at
// a time, in the order they were inserted, and wakes their callers. So
// batch n+1 is being inserted while batch n waits for its commit to reach
// the disk, and ids still grow in commit order, which RSM paging needs.
// Nothing waits for a batch to fill: a lone message costs one insert and
// one commit, a busy server fewer of them than messages.
type writer struct {
	store   Store
	maxRows int
	queue   chan *request
	log     *slog.Logger
	// inserted holds batches whose transaction awaits its commit. Its
	// capacity bounds how many transactions are open at once.
	inserted chan insertedBatch
	// stamp is the last stamp given to a batch: stamps never go back, so
	// a date is an id range (see Store.Insert).
	stamp time.Time

	mu      sync.RWMutex // guards stopped against sends to queue
	stopped bool
}

// insertedBatch is a batch inserted but not yet committed.
type insertedBatch struct {
	reqs []*request
	ids  []int64
	tx   Tx
}

func newWriter(store Store, maxRows, queue int, log *slog.Logger) *writer {
	return &writer{store: store, maxRows: maxRows, queue: make(chan *request, queue), log: log,
		inserted: make(chan insertedBatch, 1)}
}

// submit queues entries and waits until they are committed. The ids are
// those of Store.Insert. If ctx ends first, submit returns its error; the
// entries may still be committed.
func (w *writer) submit(ctx context.Context, entries []Entry) ([]int64, error) {
	req := &request{entries: entries, done: make(chan struct{})}
	w.mu.RLock()
	err := errClosed
	if !w.stopped {
		select {
		case w.queue <- req:
			err = nil
		default:
			err = errBusy
		}
	}
	w.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-req.done:
		return req.ids, req.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run inserts and commits batches until ctx ends, then writes what is
// still queued.
func (w *writer) run(ctx context.Context) {
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		for b := range w.inserted {
			w.commit(b)
		}
	}()
	defer func() {
		close(w.inserted)
		<-committed
	}()
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.stopped = true
			w.mu.Unlock()
			for len(w.queue) > 0 {
				w.insert(w.collect(<-w.queue))
			}
			return
		case req := <-w.queue:
			w.insert(w.collect(req))
		}
	}
}

// collect returns first and whatever else is queued, up to maxRows rows.
func (w *writer) collect(first *request) []*request {
	batch := []*request{first}
	rows := len(first.entries)
	for rows < w.maxRows {
		select {
		case req := <-w.queue:
			batch = append(batch, req)
			rows += len(req.entries)
		default:
			return batch
		}
	}
	return batch
}

// insert writes batch with one Insert and hands its transaction to the
// committer; if the insert fails, it wakes the batch's callers with the
// error.
func (w *writer) insert(batch []*request) {
	var all []Entry
	for _, req := range batch {
		all = append(all, req.entries...)
	}
	if now := time.Now(); now.After(w.stamp) {
		w.stamp = now
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	ids, tx, err := w.store.Insert(ctx, all, w.stamp)
	cancel()
	if err != nil {
		w.finish(batch, nil, fmt.Errorf("archiving %d messages: %w", len(all), err))
		return
	}
	w.inserted <- insertedBatch{reqs: batch, ids: ids, tx: tx}
}

// commit commits b and wakes its callers.
func (w *writer) commit(b insertedBatch) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := b.tx.Commit(ctx)
	cancel()
	if err != nil {
		err = fmt.Errorf("committing %d archived messages: %w", len(b.ids), err)
	}
	w.finish(b.reqs, b.ids, err)
}

// finish hands each request of batch its ids, or err, and wakes it.
func (w *writer) finish(batch []*request, ids []int64, err error) {
	if err != nil {
		w.log.Error("archive writer", "err", err)
	}
	for _, req := range batch {
		if err != nil {
			req.err = err
		} else {
			req.ids, ids = ids[:len(req.entries):len(req.entries)], ids[len(req.entries):]
		}
		close(req.done)
	}
}
