// Package ratelimit is a token bucket of bytes, for pausing the reader
// of a peer that sends faster than it may: TCP then holds the peer back,
// and the other streams go on.
package ratelimit

import "time"

// Burst is how many seconds of its rate a peer may send at once.
const Burst = 4

// Bucket lets a peer send its rate in bytes a second, and Burst seconds'
// worth at once. It is not safe for concurrent use: a stream's reader
// owns it.
type Bucket struct {
	rate   float64 // bytes a second
	burst  float64
	tokens float64
	last   time.Time
}

// New returns a full bucket for bytesPerSecond, which must be positive.
func New(bytesPerSecond int, now time.Time) *Bucket {
	r := float64(bytesPerSecond)
	return &Bucket{rate: r, burst: r * Burst, tokens: r * Burst, last: now}
}

// Take counts n bytes received at now and returns how long the reader
// must wait before it reads again.
func (b *Bucket) Take(n int, now time.Time) time.Duration {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// Wait waits for d, or until stop is closed.
func Wait(d time.Duration, stop <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}
