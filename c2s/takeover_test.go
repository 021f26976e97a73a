package c2s_test

import (
	"runtime"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// lockOffline takes the offline table's lock until the test ends or the
// returned function releases it, and blocks until query, a statement
// the server runs on it, waits for the lock.
func lockOffline(t *testing.T, s *xmpptest.Server) (release func()) {
	t.Helper()
	tx, err := s.DB.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release = func() { tx.Rollback(t.Context()) }
	t.Cleanup(release)
	if _, err := tx.Exec(t.Context(), "LOCK TABLE offline_messages IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return release
}

// waitForOfflineLock returns once a statement of the server waits for
// the lock lockOffline took.
func waitForOfflineLock(t *testing.T, s *xmpptest.Server) {
	t.Helper()
	deadline := time.Now().Add(xmpptest.ReadTimeout)
	for {
		var waiting bool
		err := s.DB.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO offline_messages%')`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the offline message does not wait for the table's lock")
		}
		runtime.Gosched()
	}
}

// resumeWhileHeld has juliet's session j held: its reader stays in the
// store of a message to nurse (offline), which waits for the offline
// table's lock, while a new connection from another address resumes
// the session. It returns once the session closed j's connection, with
// the new connection and the release of the lock.
func resumeWhileHeld(t *testing.T, s *xmpptest.Server, j *xmpptest.SM) (j2 *xmpptest.Client, release func()) {
	t.Helper()
	release = lockOffline(t, s)
	j.Send("<message to='nurse@localhost' type='chat'><body>later</body></message>")
	waitForOfflineLock(t, s)
	j2 = xmpptest.DialFrom(t, "127.0.0.2", s.C2SAddr)
	j2.Authenticated("juliet", "pw")
	j2.Send("<resume xmlns='urn:xmpp:sm:3' previd='" + j.ID + "' h='0'/>")
	// The session closes the old connection once it is the new one's,
	// then waits for the old reader.
	for {
		if _, err := j.C.NextErr(); err != nil {
			break
		}
	}
	return j2, release
}

// TestResumeTakeoverAsksForAcks: juliet's client resumes its session on
// a new connection while the old one is still attached and its reader
// is busy routing her last stanza (a message stored offline, which waits
// for a lock). Romeo's messages meanwhile wait for the resumption; once
// the old reader is done they follow <resumed/>, and the server asks for
// their acknowledgement (<r/>) after AckEvery (5) of them, as always. The
// request it queued for them while the session waited went with the old
// connection's nonzas: the session must not go on waiting for an answer
// to it, asking nothing, until the dead connection timer closes the new
// connection.
func TestResumeTakeoverAsksForAcks(t *testing.T) {
	s, j, r := smPair(t)
	s.AddUser(t, "nurse", xmpptest.Domain, "pw")
	j2, release := resumeWhileHeld(t, s, j)
	for n := 1; n <= 5; n++ {
		r.Send(chat("juliet@localhost/balcony", n))
	}
	r.Ping() // routed: queued for the resumed session
	release()

	if el := j2.Next(); el.Name.Local != "resumed" || el.Attr("h") != "1" {
		t.Fatalf("got %s, want <resumed h='1'/>", el)
	}
	for n := 1; n <= 5; n++ {
		expectBody(t, j2.Next(), n)
	}
	j2.Send("<iq type='get' id='after' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := j2.Next(); el.Name.Space != nsSM || el.Name.Local != "r" {
		t.Fatalf("got %s after 5 unacknowledged stanzas, want <r/>", el)
	}
}
