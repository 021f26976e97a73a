package xmpptest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Records is a log handler that keeps every record for Wait; Logger
// returns a logger writing to it.
type Records chan slog.Record

// NewRecords returns a handler that keeps up to 10,000 records.
func NewRecords() Records { return make(Records, 10000) }

// Logger returns a logger of every level into r.
func (r Records) Logger() *slog.Logger { return slog.New(r) }

// Wait returns the first record whose message starts with prefix and that
// has the attribute key with the value value (any value when key is
// empty), failing the test after 60 seconds.
func (r Records) Wait(t testing.TB, prefix, key, value string) slog.Record {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case rec := <-r:
			if strings.HasPrefix(rec.Message, prefix) && (key == "" || attr(rec, key) == value) {
				return rec
			}
		case <-timeout:
			t.Fatalf("no log record %q with %s=%s within 60 s", prefix, key, value)
		}
	}
}

// Count drains the records kept so far and returns how many have a
// message starting with prefix.
func (r Records) Count(prefix string) int {
	n := 0
	for {
		select {
		case rec := <-r:
			if strings.HasPrefix(rec.Message, prefix) {
				n++
			}
		default:
			return n
		}
	}
}

// attr returns the value of rec's attribute key as a string.
func attr(rec slog.Record, key string) string {
	var v string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// Enabled reports true for every level.
func (r Records) Enabled(context.Context, slog.Level) bool { return true }

// Handle keeps rec, or drops it when 10,000 are waiting.
func (r Records) Handle(_ context.Context, rec slog.Record) error {
	select {
	case r <- rec.Clone():
	default:
	}
	return nil
}

// WithAttrs returns r; attributes given this way are not kept.
func (r Records) WithAttrs([]slog.Attr) slog.Handler { return r }

// WithGroup returns r.
func (r Records) WithGroup(string) slog.Handler { return r }
