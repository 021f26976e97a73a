package c2s

import (
	"context"
	"time"
)

// rateLimit is a token bucket of bytes: a client may send rate bytes a
// second and burst bytes at once. Its session's reader pauses while the
// client is in debt, so that TCP holds the client back; other sessions
// go on. Only the session's reader uses it.
type rateLimit struct {
	rate   float64 // bytes a second
	burst  float64
	tokens float64
	last   time.Time
}

// rateBurst is how many seconds of its rate a client may send at once.
const rateBurst = 4

func newRateLimit(bytesPerSecond int, now time.Time) *rateLimit {
	r := float64(bytesPerSecond)
	return &rateLimit{rate: r, burst: r * rateBurst, tokens: r * rateBurst, last: now}
}

// take counts n bytes received at now and returns how long the reader
// must wait before it reads again.
func (l *rateLimit) take(n int, now time.Time) time.Duration {
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// throttle pauses the session's reader for as long as the rate limit
// says, after an element of n bytes, or until ctx ends.
func (s *Session) throttle(ctx context.Context, n int) {
	if s.limit == nil {
		return
	}
	d := s.limit.take(n, time.Now())
	if d <= 0 {
		return
	}
	s.limited++
	if s.limited == 1 {
		s.srv.log.Info("c2s rate limit: reading from the client is paused", "jid", s.jid.String(), "for", d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
