package c2s_test

import (
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestFloodingClientIsPaused: juliet sends far more than her rate
// limit at once. The server reads her burst, then pauses reading from
// her: mercutio's message, sent once romeo has some of hers, reaches
// romeo before her last ones. Then every one of hers arrives, in order.
func TestFloodingClientIsPaused(t *testing.T) {
	const rate, n = 5000, 30 // 20,000 bytes at once, then 5,000 a second
	s := xmpptest.Start(t, func(c *config.Config) { c.Limits.ClientBytesPerSecond = rate })
	for _, u := range []string{"juliet", "romeo", "mercutio"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	mercutio := xmpptest.Login(t, s, "mercutio", "pw", "street")

	// 30 headlines (not archived: routed at once) of about 1,100 bytes:
	// 18 fit in the burst, the other 12 take 2.6 s. They fit in the
	// socket buffers, so the write returns at once.
	xmpptest.ExpectFloodPaused(t, juliet, romeo, mercutio, "j", n, "j3")
	juliet.Ping() // her session goes on
}

// TestPausedClientResumes: a client whose reading is paused for long (a
// message at 20 bytes a second) loses its connection and resumes its
// session at once on a new one: the old reader's pause ends with it.
func TestPausedClientResumes(t *testing.T) {
	s, j, _ := smPair(t, func(c *config.Config) { c.Limits.ClientBytesPerSecond = 20 })
	if h := j.Handled(); h != 0 { // the reader is at work
		t.Fatalf("h = %d", h)
	}
	// Its next read puts it some 20 s in debt: it pauses before reading on.
	j.Send("<message to='romeo@localhost/orchard' type='chat'><body>" + strings.Repeat("x", 4000) + "</body></message>")
	j.C.Conn.Close()

	again := xmpptest.Dial(t, s.C2SAddr)
	again.Authenticated("juliet", "pw")
	if el := again.Resume(j.ID, 0); el.Name.Local != "resumed" {
		t.Fatalf("got %s, want <resumed/>", el)
	}
}
