package mam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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

// writer is the group commit. One goroutine, the collector, takes every
// request queued while it was busy, up to maxRows rows, as a batch, and
// gives the batch its archive ids (one NextIDs round trip) and its stamp;
// up to inserters batches are inserted at once, each with one
// Store.Insert in its own transaction; one committer commits them in the
// order the collector formed them and wakes their callers. So PostgreSQL
// works on several batches at once (on as many cores) while earlier ones
// wait for their commit to reach the disk, and ids still grow in commit
// order, which RSM paging needs: a batch's ids are above every earlier
// batch's, and it commits after them. Other processes' writers (a
// cluster's nodes) are kept in that order by the store: clustered, the
// collector leaves the ids to Store.Insert.
//
// A lone message is written at once: one reservation, one insert and one
// commit. Batches are formed at most every gap, though, so that a busy
// server writes fewer, bigger ones: each costs four round trips and a WAL
// flush whatever its size. At 1,000 messages a second, batches of one or
// two kept the server's core 92 % busy; with the gap, 39 %. The gap ends
// early when the writer falls idle: every batch committed and nothing
// queued meanwhile. So one stream that sends message after message, each
// waiting for its commit, is not held to one message per gap, while
// messages that arrive during a commit still wait for company.
type writer struct {
	store   Store
	maxRows int
	// clustered leaves the ids to Store.Insert, which reserves them in
	// order with other processes' writers; batches are then inserted one
	// at a time, since each waits for the commit of the one before.
	clustered bool
	gap       time.Duration // the least time between two batches' forming
	queue     chan *request
	log       *slog.Logger
	// stamp is the last stamp given to a batch: stamps never go back, so
	// a date is an id range (see Store.Insert). Only the collector uses it.
	stamp time.Time

	mu      sync.RWMutex // guards stopped against sends to queue
	stopped bool

	archived atomic.Uint64 // messages committed
}

// inserters is how many batches are inserted at once; at most one more
// transaction is open, awaiting its commit.
const inserters = 3

// batchGap is the writer's gap: what a message may wait for earlier
// batches' company, far below what a person notices.
const batchGap = 5 * time.Millisecond

// batch is what the collector formed of one or more requests.
type batch struct {
	reqs    []*request
	entries []Entry
	ids     []int64 // given by the collector; after the insert, 0 for rows left out
	stamp   time.Time
	tx      Tx
	err     error
	// inserted is closed when the insert has returned (tx or err set).
	inserted chan struct{}
}

func newWriter(store Store, maxRows, queue int, log *slog.Logger) *writer {
	return &writer{store: store, maxRows: maxRows, gap: batchGap, queue: make(chan *request, queue), log: log}
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

// run collects batches until ctx ends, then writes what is still
// queued; it returns once everything is committed.
func (w *writer) run(ctx context.Context) {
	work := make(chan *batch)
	// ordered holds the formed batches, oldest first, for the committer;
	// its capacity bounds the open transactions.
	ordered := make(chan *batch, inserters)
	var insertersDone sync.WaitGroup
	for range w.inserters() {
		insertersDone.Go(func() {
			for b := range work {
				w.insert(b)
			}
		})
	}
	// idle gets a signal when a commit leaves no batch in flight and no
	// request queued: the caller just woken is the only one writing.
	idle := make(chan struct{}, 1)
	var inFlight atomic.Int64
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		for b := range ordered {
			<-b.inserted
			err := w.commit(b)
			if inFlight.Add(-1) == 0 && len(w.queue) == 0 {
				select {
				case idle <- struct{}{}:
				default:
				}
			}
			w.finish(b.reqs, b.ids, err)
		}
	}()
	dispatch := func(first *request) {
		// Counted before the signal is cleared, so that no older batch
		// can signal idle once it is.
		inFlight.Add(1)
		select {
		case <-idle:
		default:
		}
		b := w.form(w.collect(first))
		if b == nil {
			inFlight.Add(-1)
			return
		}
		ordered <- b
		work <- b
	}
	pause := time.NewTimer(0)
	for {
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.stopped = true
			w.mu.Unlock()
			for len(w.queue) > 0 {
				dispatch(<-w.queue)
			}
			close(work)
			close(ordered)
			insertersDone.Wait()
			<-committed
			return
		case req := <-w.queue:
			// Requests arriving within the gap wait in the queue and
			// go with the next batch, unless the writer falls idle.
			pause.Reset(w.gap)
			dispatch(req)
		pausing:
			for {
				select {
				case <-pause.C:
				case <-idle:
					if inFlight.Load() != 0 {
						// Sent as this batch was dispatched, before it
						// was counted: not idle after all.
						continue
					}
					pause.Stop()
				case <-ctx.Done():
				}
				break pausing
			}
		}
	}
}

// inserters returns how many batches are inserted at once. Clustered,
// it is one: an insert waits for the earlier batch's commit, and two
// waiting at once could get the ids in the other order than the
// committer commits them.
func (w *writer) inserters() int {
	if w.clustered {
		return 1
	}
	return inserters
}

// collect returns first and whatever else is queued, up to maxRows rows.
func (w *writer) collect(first *request) []*request {
	reqs := []*request{first}
	rows := len(first.entries)
	for rows < w.maxRows {
		select {
		case req := <-w.queue:
			reqs = append(reqs, req)
			rows += len(req.entries)
		default:
			return reqs
		}
	}
	return reqs
}

// form makes reqs a batch with its stamp and, unless clustered, its ids;
// if the ids cannot be reserved, it fails the requests and returns nil.
func (w *writer) form(reqs []*request) *batch {
	b := &batch{reqs: reqs, inserted: make(chan struct{})}
	for _, req := range reqs {
		b.entries = append(b.entries, req.entries...)
	}
	var ids []int64
	if !w.clustered {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		var err error
		ids, err = w.store.NextIDs(ctx, len(b.entries))
		cancel()
		if err != nil {
			w.finish(reqs, nil, fmt.Errorf("archiving %d messages: %w", len(b.entries), err))
			return nil
		}
	}
	// Stamps are kept to the millisecond, the precision clients are told
	// (stampLayout): a message's stamp is then exactly the one its <delay/>
	// and the archive's metadata show, so that 'end' at that stamp includes
	// it (XEP-0313 §4.1.2). Truncate also drops the monotonic clock
	// reading, so After compares wall clocks, and a wall clock set back
	// cannot give a later batch an earlier stamp.
	if now := time.Now().Truncate(time.Millisecond); now.After(w.stamp) {
		w.stamp = now
	}
	b.ids, b.stamp = ids, w.stamp
	return b
}

// insert writes b in a new transaction, left open for the committer.
func (w *writer) insert(b *batch) {
	defer close(b.inserted)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b.ids, b.tx, b.err = w.store.Insert(ctx, b.entries, b.ids, b.stamp)
}

// commit commits b, once inserted, and returns what failed.
func (w *writer) commit(b *batch) error {
	err := b.err
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err = b.tx.Commit(ctx)
		cancel()
	}
	if err != nil {
		return fmt.Errorf("archiving %d messages: %w", len(b.entries), err)
	}
	return nil
}

// finish hands each request of reqs its ids, or err, and wakes it.
func (w *writer) finish(reqs []*request, ids []int64, err error) {
	if err != nil {
		w.log.Error("archive writer", "err", err)
	} else {
		w.archived.Add(uint64(len(reqs)))
	}
	for _, req := range reqs {
		if err != nil {
			req.err = err
		} else {
			req.ids, ids = ids[:len(req.entries):len(req.entries)], ids[len(req.entries):]
		}
		close(req.done)
	}
}
