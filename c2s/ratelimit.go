package c2s

import "time"

// rateLimit is a token bucket of bytes: a client may send rate bytes a
// second and burst bytes at once. Its session's reader pauses while the
// client is in debt, so that TCP holds the client back; other sessions
// go on. Only the session's reader uses it: a resumption waits for the
// old reader to end (Session.attach), and ends its pause first.
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
// says, after an element of n bytes, or until the pause is ended
// (endPauseLocked).
func (s *Session) throttle(n int) {
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
	s.mu.Lock()
	if s.pauseEnd == nil {
		s.pauseEnd = make(chan struct{})
	}
	end := s.pauseEnd
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-end:
	}
}

// endPauseLocked ends the reader's rate-limit pause, if it pauses: the
// session is resumed on another connection, or ends. s.mu is held.
func (s *Session) endPauseLocked() {
	if s.pauseEnd != nil {
		close(s.pauseEnd)
		s.pauseEnd = nil
	}
}
