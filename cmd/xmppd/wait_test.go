package main

import (
	"log/slog"
	"os"
	"testing"
	"time"
)

// fakeServer counts certificate reloads and dies when told.
type fakeServer struct {
	lost     chan struct{}
	reloaded chan struct{}
}

func (f *fakeServer) DatabaseLost() <-chan struct{} { return f.lost }
func (f *fakeServer) Displaced() <-chan error       { return nil }
func (f *fakeServer) ReloadCertificates() error {
	f.reloaded <- struct{}{}
	return nil
}

// A running server reloads its certificates at each interval unasked (a
// generated one is renewed when due), and stops with an error when its
// private PostgreSQL dies.
func TestWaitForStop(t *testing.T) {
	f := &fakeServer{lost: make(chan struct{}), reloaded: make(chan struct{})}
	stopped := make(chan error, 1)
	go func() { stopped <- waitForStop(f, slog.New(slog.DiscardHandler), 1, make(chan os.Signal)) }()
	for range 2 {
		select {
		case <-f.reloaded:
		case <-time.After(time.Minute): // a bound, not a timing
			t.Fatal("no reload of the certificates unasked")
		}
	}
	close(f.lost)
	for {
		select {
		case <-f.reloaded: // one more may have been due
		case err := <-stopped:
			if err == nil {
				t.Fatal("waitForStop returned no error when the database was lost")
			}
			return
		}
	}
}
