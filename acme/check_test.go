package acme

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	acmeapi "golang.org/x/crypto/acme"
)

// memStore is a Store in memory, for what needs no authority.
type memStore struct {
	Store    // methods a test does not expect panic
	failures int
	retryAt  time.Time
}

func (s *memStore) Certificate(context.Context, string) ([]byte, []byte, error) { return nil, nil, nil }
func (s *memStore) Lock(_ context.Context, _ string, fn func() error) error     { return fn() }
func (s *memStore) Failures(context.Context, string) (int, time.Time, error) {
	return s.failures, s.retryAt, nil
}

// A failure recorded by any node makes every node wait until its time,
// without ordering.
func TestCheckWaitsAfterFailure(t *testing.T) {
	retryAt := time.Now().Add(7 * time.Minute).Truncate(time.Second)
	m := New(Config{Directory: "https://127.0.0.1:1/dir", Domains: []string{"chat.example"},
		Store: &memStore{failures: 2, retryAt: retryAt}})
	next, err := m.check(context.Background(), "chat.example")
	if err != nil || !next.Equal(retryAt) {
		t.Errorf("check = %v, %v; want to wait until %v without trying", next, err, retryAt)
	}
}

func TestRetryWait(t *testing.T) {
	plain := errors.New("refused")
	for n, want := range map[int]time.Duration{1: 5 * time.Minute, 2: 10 * time.Minute, 4: 40 * time.Minute,
		7: 320 * time.Minute, 8: 6 * time.Hour, 30: 6 * time.Hour} {
		if got := retryWait(n, plain); got != want {
			t.Errorf("after %d failures: %v, want %v", n, got, want)
		}
	}
	limited := &acmeapi.Error{StatusCode: http.StatusTooManyRequests, ProblemType: "urn:ietf:params:acme:error:rateLimited",
		Header: http.Header{"Retry-After": {"7200"}}}
	if got := retryWait(1, limited); got != 2*time.Hour {
		t.Errorf("rate limited for 2 hours: waits %v", got)
	}
}
