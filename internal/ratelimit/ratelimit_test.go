package ratelimit

import (
	"testing"
	"time"
)

// TestTake follows the bucket: a burst passes, the debt beyond it
// is paid at the rate, and time refills it up to the burst only.
func TestTake(t *testing.T) {
	start := time.Unix(1000, 0)
	l := New(1000, start) // 1,000 bytes a second, 4,000 at once
	for _, step := range []struct {
		after time.Duration // since start
		n     int
		want  time.Duration
	}{
		{0, 4000, 0},                                              // the burst
		{0, 500, 500 * time.Millisecond},                          // in debt: wait for 500 bytes
		{500 * time.Millisecond, 0, 0},                            // paid
		{time.Hour, 4000, 0},                                      // refilled, to the burst only
		{time.Hour, 1, time.Millisecond},                          // so one more byte is debt
		{time.Hour + 2*time.Second, 2500, 501 * time.Millisecond}, // 2 s bring 2,000
	} {
		if got := l.Take(step.n, start.Add(step.after)); got != step.want {
			t.Fatalf("take(%d) at +%v = %v, want %v", step.n, step.after, got, step.want)
		}
	}
}

// BenchmarkTake is what the limit adds to each element a client
// sends: reading the clock and counting.
func BenchmarkTake(b *testing.B) {
	l := New(1<<30, time.Now())
	for b.Loop() {
		if l.Take(300, time.Now()) != 0 {
			b.Fatal("paused")
		}
	}
}
