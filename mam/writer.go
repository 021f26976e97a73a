package mam

import (
	"context"
	"errors"
	"log/slog"
	"sync"
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

// writer is the group commit: one goroutine takes every request queued
// while the previous batch was being written and writes them with one
// Store.Append, up to maxRows rows, then wakes their callers. Nothing
// waits for a batch to fill, so a lone message costs one round trip and a
// busy server fewer round trips than messages. With one writer, batches
// commit in order and ids grow in commit order, which RSM paging needs.
type writer struct {
	store   Store
	maxRows int
	queue   chan *request
	log     *slog.Logger

	mu      sync.RWMutex // guards stopped against sends to queue
	stopped bool
}

func newWriter(store Store, maxRows, queue int, log *slog.Logger) *writer {
	return &writer{store: store, maxRows: maxRows, queue: make(chan *request, queue), log: log}
}

// submit queues entries and waits until they are committed. The ids are
// those of Store.Append. If ctx ends first, submit returns its error; the
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

// run writes batches until ctx ends, then writes what is still queued.
func (w *writer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.stopped = true
			w.mu.Unlock()
			for len(w.queue) > 0 {
				w.write(w.collect(<-w.queue))
			}
			return
		case req := <-w.queue:
			w.write(w.collect(req))
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

// write stores batch with one Append and wakes its callers.
func (w *writer) write(batch []*request) {
	var all []Entry
	for _, req := range batch {
		all = append(all, req.entries...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	ids, err := w.store.Append(ctx, all)
	cancel()
	if err != nil {
		w.log.Error("archiving messages", "rows", len(all), "err", err)
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
