package c2s

import (
	"time"

	"xmppd/internal/ratelimit"
)

// throttle pauses the session's reader for as long as the rate limit
// says, after an element of n bytes, or until the pause is ended
// (endPauseLocked).
func (s *Session) throttle(n int) {
	if s.limit == nil {
		return
	}
	d := s.limit.Take(n, time.Now())
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
	ratelimit.Wait(d, end)
}

// endPauseLocked ends the reader's rate-limit pause, if it pauses: the
// session is resumed on another connection, or ends. s.mu is held.
func (s *Session) endPauseLocked() {
	if s.pauseEnd != nil {
		close(s.pauseEnd)
		s.pauseEnd = nil
	}
}
