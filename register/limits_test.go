package register

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(2, time.Hour, 3)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true},
		{"a", time.Minute, true},
		{"a", 2 * time.Minute, false}, // third within the hour
		{"b", 3 * time.Minute, true},  // other addresses are not affected
		{"c", 4 * time.Minute, true},
		{"d", 5 * time.Minute, false},        // table full of live addresses
		{"a", time.Hour + time.Second, true}, // the first slot of a has passed
		{"d", 2 * time.Hour, true},           // expired entries make room
	}
	for i, s := range steps {
		if got := l.reserve(s.key, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: reserve(%s, +%v) = %v, want %v", i, s.key, s.at, got, s.want)
		}
	}

	// A released slot can be taken again.
	l = newLimiter(1, time.Hour, 10)
	if !l.reserve("a", t0) || l.reserve("a", t0.Add(time.Second)) {
		t.Fatal("limit of one not applied")
	}
	l.release("a", t0)
	if !l.reserve("a", t0.Add(2*time.Second)) {
		t.Fatal("released slot not available")
	}

	// No limit.
	l = newLimiter(0, time.Hour, 1)
	for i := range 5 {
		if !l.reserve(fmt.Sprint(i), t0) {
			t.Fatal("limit 0 refused")
		}
	}
}

func TestPreauths(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	ps := newPreauths(time.Minute, 2)
	ps.put("c1", preauth{domain: "example.org", token: "T1", at: t0})
	if p, ok := ps.get("c1", "example.org", t0.Add(time.Second)); !ok || p.token != "T1" {
		t.Fatalf("get = %v, %v", p, ok)
	}
	if _, ok := ps.get("c1", "other.example", t0); ok {
		t.Error("token given for one domain used for another")
	}
	if _, ok := ps.get("c2", "example.org", t0); ok {
		t.Error("token of one connection seen by another")
	}
	if _, ok := ps.get("c1", "example.org", t0.Add(2*time.Minute)); ok {
		t.Error("stale token kept")
	}
	ps.put("c2", preauth{domain: "example.org", token: "T2", at: t0})
	ps.put("c3", preauth{domain: "example.org", token: "T3", at: t0.Add(2 * time.Minute)}) // evicts the stale ones
	if len(ps.byConn) > 2 {
		t.Errorf("table holds %d entries, bound 2", len(ps.byConn))
	}
	ps.drop("c3")
	if _, ok := ps.get("c3", "example.org", t0.Add(2*time.Minute)); ok {
		t.Error("dropped token kept")
	}
}
