package muc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
)

// failingStore is a Store whose writes fail while fail is set; only the
// writer's two methods are implemented.
type failingStore struct {
	Store
	next int64
	fail atomic.Bool
}

func (f *failingStore) NextIDs(ctx context.Context, n int) ([]int64, error) {
	ids := make([]int64, n)
	for i := range ids {
		f.next++
		ids[i] = f.next
	}
	return ids, nil
}

func (f *failingStore) Write(ctx context.Context, service string, msgs []Message) error {
	if f.fail.Load() {
		return errors.New("the disk is full")
	}
	return nil
}

// A message whose batch could not be written is reported to the one who
// waits for it, so that its sender is answered with an error instead of
// acknowledged; the others are not.
func TestWaitReportsFailedWrites(t *testing.T) {
	store := &failingStore{}
	w := newWriter(store, "conference.localhost", 10, 100, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go w.run()
	defer w.close()
	ctx := context.Background()

	_, ok, err := w.submit(ctx, Message{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.wait(ctx, ok); err != nil {
		t.Fatalf("a written message: %v", err)
	}
	store.fail.Store(true)
	_, lost, err := w.submit(ctx, Message{Room: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.wait(ctx, lost); !errors.Is(err, errNotWritten) {
		t.Fatalf("a message whose write failed: %v, want errNotWritten", err)
	}
	store.fail.Store(false)
	_, later, _ := w.submit(ctx, Message{Room: "r"})
	if err := w.wait(ctx, later); err != nil {
		t.Fatalf("a message after the failure: %v", err)
	}
	if err := w.wait(ctx, ok); err != nil {
		t.Fatalf("the first message, asked again: %v", err)
	}
}
