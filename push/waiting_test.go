package push_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestWaitingNotificationsFold: while the app server has not answered
// the notification of a message for alice's tablet, whose session waits
// to be resumed, the many that follow it are folded into one, of the
// last of them, counting all the messages the session got while
// waiting, instead of one notification each.
func TestWaitingNotificationsFold(t *testing.T) {
	s, _, bob, app := start(t, func(c *config.Config) { c.Push.IncludeBody = true })
	waitingTablet(t, s, "n2")
	burstFolds(t, bob, app, "alice@localhost/tablet", "n2")
}

// TestWaitingMessageCount: the summary's message-count is the number of
// messages alice's tablet got since its session began waiting; it starts
// again once the session was resumed, and for a new session that
// replaced it.
func TestWaitingMessageCount(t *testing.T) {
	s, _, bob, app := start(t)
	sm := waitingTablet(t, s, "n2")
	send := func(to, body, want string) {
		t.Helper()
		bob.Send("<message to='" + to + "' type='chat'><body>" + body + "</body></message>")
		if got := summary(t, expectPush(t, app, "n2", "type='result'>"))["message-count"]; got != want {
			t.Errorf("message-count %s after %s; want %s", got, body, want)
		}
	}
	for i, want := range []string{"1", "2", "3"} {
		send("alice@localhost/tablet", "m"+strconv.Itoa(i), want)
	}
	sm = resume(t, s, sm, 3)
	loseConnection(sm)
	send("alice@localhost/tablet", "after resuming", "1")

	// Resumed again, the tablet comes online, so that a message to the
	// account reaches it, and loses its connection. A new session of the
	// same resource replaces the waiting one, which gives the message back
	// (it is stored offline).
	sm = resume(t, s, sm, 1)
	sm.Send("<presence/>")
	for sm.Next().Name.Local != "presence" {
	}
	loseConnection(sm)
	send("alice@localhost", "to the account", "1")
	waitingTablet(t, s, "n2")
	send("alice@localhost/tablet", "in a new session", "1")
}

// resume resumes the session of sm on a new connection and reads the n
// messages that waited.
func resume(t *testing.T, s *xmpptest.Server, sm *xmpptest.SM, n int) *xmpptest.SM {
	t.Helper()
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Authenticated("alice", "alice pw")
	if el := c.Resume(sm.ID, sm.H); el.Name.Local != "resumed" {
		t.Fatalf("resume: got %s", el)
	}
	sm = &xmpptest.SM{C: c, ID: sm.ID, H: sm.H, AutoAck: true}
	for range n {
		if el := sm.Next(); el.Name.Local != "message" {
			t.Fatalf("got %s, want the messages that waited", el)
		}
	}
	return sm
}

// loseConnection acknowledges what sm's client got, then loses its
// connection: the session waits to be resumed, and holds nothing.
func loseConnection(sm *xmpptest.SM) {
	sm.C.T.Helper()
	sm.Ack()
	sm.Send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
	sm.Next() // the acknowledgement is taken
	sm.C.Conn.Close()
}

// TestResumedWhileLosingConnection: alice's tablet loses its connection
// holding a message, and its client resumes the session before c2s has
// told push of what the session held (the logger, called in between,
// holds the lost connection's reader back until the resumption is done).
// The message was re-sent on the live connection: it must not count in
// the next waiting period, whose first notification counts one message.
func TestResumedWhileLosingConnection(t *testing.T) {
	h := &lostHandler{lost: make(chan struct{}), release: make(chan struct{})}
	s, _, bob, app := startLogged(t, slog.New(h))
	t.Cleanup(h.releaseOnce) // before the server stops, which waits for the reader
	c := xmpptest.Login(t, s, "alice", "alice pw", "tablet")
	sm := c.EnableSM()
	sm.Send(enableIQ("e-n2", "n2"))
	if el := sm.Next(); el.Attr("id") != "e-n2" || el.Attr("type") != "result" {
		t.Fatalf("enable n2: got %s", el)
	}
	bob.Send("<message to='alice@localhost/tablet' type='chat'><body>held</body></message>")
	bob.Ping() // the session holds the message
	c.Conn.Close()
	select {
	case <-h.lost:
	case <-time.After(xmpptest.ReadTimeout):
		t.Fatal("the session did not notice the lost connection")
	}
	sm = resume(t, s, sm, 1)
	sm.Ack()
	sm.Send("<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
	sm.Next() // read after the resumption was told (Resumed)
	h.releaseOnce()
	// The held message is notified once, whether before or after the
	// resumption.
	expectPush(t, app, "n2", "type='result'>")

	sm.C.Conn.Close()
	bob.Send("<message to='alice@localhost/tablet' type='chat'><body>waiting</body></message>")
	if got := summary(t, expectPush(t, app, "n2", "type='result'>"))["message-count"]; got != "1" {
		t.Errorf("message-count %s; want 1: the message re-sent on resuming is read", got)
	}
}

// lostHandler is a log handler that, at the first record of a session
// losing its connection, closes lost and waits for release.
type lostHandler struct {
	lost, release chan struct{}
	once, rel     sync.Once
}

func (h *lostHandler) releaseOnce() { h.rel.Do(func() { close(h.release) }) }

func (h *lostHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *lostHandler) Handle(_ context.Context, rec slog.Record) error {
	if strings.HasPrefix(rec.Message, "c2s connection lost") {
		h.once.Do(func() {
			close(h.lost)
			<-h.release
		})
	}
	return nil
}

func (h *lostHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *lostHandler) WithGroup(string) slog.Handler { return h }
