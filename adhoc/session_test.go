package adhoc

import (
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// TestSessionTimeout: a session whose form waited too long has expired
// (XEP-0050 §4.6), and is forgotten a while later; a waiting one closes
// once.
func TestSessionTimeout(t *testing.T) {
	s := &Service{sessions: map[string]session{}}
	boss := jid.MustParse("boss@localhost/desk")
	id := s.open("cmd", boss)
	if got := s.lookup(id, "cmd", boss, true); got != waitingSession {
		t.Fatalf("closing a waiting session: %v, want waitingSession", got)
	}
	if got := s.lookup(id, "cmd", boss, true); got != expiredSession {
		t.Fatalf("closing it again: %v, want expiredSession", got)
	}

	late := s.open("cmd", boss)
	ss := s.sessions[late]
	ss.expires = time.Now().Add(-time.Second)
	s.sessions[late] = ss
	if got := s.lookup(late, "cmd", boss, true); got != expiredSession {
		t.Fatalf("closing a timed-out session: %v, want expiredSession", got)
	}
	ss.expires = time.Now().Add(-sessionTimeout - time.Second)
	s.sessions[late] = ss
	s.open("cmd", boss) // sweeps
	if got := s.lookup(late, "cmd", boss, true); got != unknownSession {
		t.Fatalf("closing a session timed out long ago: %v, want unknownSession", got)
	}
}
