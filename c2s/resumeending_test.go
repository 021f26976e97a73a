package c2s

import (
	"testing"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// endingSession returns a server and its resumable session "ending-id",
// which handled 7 of its client's stanzas and is ending: marked so, as
// terminate marks it first, but not yet out of the table of resumable
// sessions.
func endingSession(t *testing.T) (*Server, *Session) {
	srv, _, s, _, _ := boundPairSessions(t, true)
	s.mu.Lock()
	s.sm.id, s.sm.received, s.sm.handled = "ending-id", 7, 7
	s.closing = true
	s.mu.Unlock()
	srv.remember("ending-id", s)
	return srv, s
}

// TestResumeSessionEnding: a client resumes its session while the
// session is ending, marked so but not yet out of the table of resumable
// sessions (terminate between its lock and Server.forget). The session
// is known: <failed/> carries item-not-found and the count of the
// client's stanzas it handled (XEP-0198 §5), as for one that ended.
func TestResumeSessionEnding(t *testing.T) {
	srv, _ := endingSession(t)

	st := &stream{srv: srv, username: "user", domain: "localhost"}
	resumed, failed, err := st.resumeWith(xmlstream.NewElement(NSSM, "resume", "previd", "ending-id", "h", "0"), nil)
	if err != nil || resumed != nil {
		t.Fatalf("resuming an ending session: got %v, %v, want <failed/>", resumed, err)
	}
	if failed.Child(stanza.NSStanzas, "item-not-found") == nil || failed.Attr("h") != "7" {
		t.Fatalf("resuming an ending session: got %s, want <failed h='7'/> with item-not-found", failed.Append(nil, ""))
	}
}

// TestEndResumableSessionEnding: another node asks to end a session that
// is ending already (terminate between its lock and Server.forget). The
// answer waits until the session has ended, what it held routed again,
// and carries its count, as for a session that had ended before.
func TestEndResumableSessionEnding(t *testing.T) {
	srv, s := endingSession(t)

	type answer struct {
		handled uint32
		found   bool
	}
	got := make(chan answer, 1)
	go func() {
		handled, found := srv.EndResumable("ending-id", s.jid.Bare().String())
		got <- answer{handled, found}
	}()
	close(s.ended) // the goroutine that is ending it finishes
	if a := <-got; !a.found || a.handled != 7 {
		t.Fatalf("ending a session that was ending: got handled %d, found %v; want 7, true", a.handled, a.found)
	}
}
