package c2s

import (
	"time"

	"xmppd/internal/ratelimit"
)

// throttle pauses the session's reader of t for as long as the rate
// limit says, after a read of n bytes from the client, or until the pause
// is ended (endPauseLocked). It is t's read hook (readHook): whatever the
// client sends counts, whitespace included. A reader whose connection is
// no longer the session's, or whose session ended, does not pause.
func (s *Session) throttle(t Transport, n int) {
	s.mu.Lock()
	if s.t != t || s.closing {
		s.mu.Unlock()
		return
	}
	d := s.limit.Take(n, time.Now())
	if d <= 0 {
		s.mu.Unlock()
		return
	}
	if s.pauseEnd == nil {
		s.pauseEnd = make(chan struct{})
	}
	end := s.pauseEnd
	s.limited++
	first := s.limited == 1
	s.mu.Unlock()
	if first {
		s.srv.log.Info("c2s rate limit: reading from the client is paused", "jid", s.jid.String(), "for", d)
	}
	ratelimit.Wait(d, end)
}

// readHook is the read hook of t that applies the session's rate limit,
// or nil without one.
func (s *Session) readHook(t Transport) func(int) {
	if s.limit == nil {
		return nil
	}
	return func(n int) { s.throttle(t, n) }
}

// endPauseLocked ends the reader's rate-limit pause, if it pauses: the
// session is resumed on another connection, or ends. s.mu is held.
func (s *Session) endPauseLocked() {
	if s.pauseEnd != nil {
		close(s.pauseEnd)
		s.pauseEnd = nil
	}
}
