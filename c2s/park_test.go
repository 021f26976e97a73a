//go:build linux

package c2s_test

import (
	"context"
	"crypto/tls"
	"strconv"
	"testing"
	"time"

	"xmppd/c2s"
	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// parkingServer starts a server whose readers park after a millisecond of
// silence, with the accounts users (password "pw").
func parkingServer(t *testing.T, users ...string) *xmpptest.Server {
	s := xmpptest.Start(t, func(c *config.Config) { c.C2S.ParkAfter = time.Millisecond })
	for _, u := range users {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	return s
}

// waitParked returns once the server has parked the reader of c's
// session: c has said nothing for longer than the parking delay.
func waitParked(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	addr := c.Conn.LocalAddr().String()
	deadline := time.Now().Add(xmpptest.ReadTimeout)
	for !c2s.Parked(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("the session of %s was not parked within %v", c.JID, xmpptest.ReadTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestParkedSessions: with readers parked after a millisecond of silence,
// a client that pauses between stanzas, in the middle of one, after a
// whitespace keepalive, or that sends several stanzas at once, is read as
// always.
func TestParkedSessions(t *testing.T) {
	t.Parallel()
	s := parkingServer(t, "juliet", "romeo")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()
	msg := func(body string) string {
		return "<message type='chat' to='" + juliet.JID + "'><body>" + body + "</body></message>"
	}
	expect := func(bodies ...string) {
		t.Helper()
		for _, b := range bodies {
			xmpptest.ExpectBody(t, juliet.NextNamed("message"), romeo.JID, b)
		}
	}

	waitParked(t, romeo)
	romeo.Send(msg("after silence"))
	expect("after silence")
	split := msg("split")
	romeo.Send(split[:13])
	time.Sleep(20 * time.Millisecond) // a pause inside a stanza, twenty times the parking delay: the situation under test
	romeo.Send(split[13:])
	expect("split")
	romeo.Send(" ")
	waitParked(t, romeo)
	romeo.Send(msg("after a keepalive"))
	expect("after a keepalive")
	romeo.Send(msg("one") + msg("two") + msg("three"))
	expect("one", "two", "three")
	for batch := range 3 {
		waitParked(t, romeo)
		for i := range 10 {
			romeo.Send(msg(strconv.Itoa(batch*10 + i)))
		}
		for i := range 10 {
			expect(strconv.Itoa(batch*10 + i))
		}
	}
	juliet.Send("<message type='chat' to='" + romeo.JID + "'><body>and back</body></message>")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), juliet.JID, "and back")
}

// TestParkedSessionsEnd: a parked session ends however its connection
// does: replaced by a new login (the server closes the old connection),
// dropped by the client, or at a shutdown, which returns only once every
// session has ended.
func TestParkedSessionsEnd(t *testing.T) {
	t.Parallel()
	s := parkingServer(t, "juliet", "romeo", "nurse")
	replaced := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	replaced.Online()
	dropped := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	dropped.Online()

	waitParked(t, replaced)
	waitParked(t, dropped)
	again := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	replaced.ExpectStreamError("conflict")
	dropped.Conn.Close()
	kept := xmpptest.Login(t, s, "nurse", "pw", "kitchen") // no other resource's presence comes to her
	kept.Online()
	waitParked(t, kept)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with parked sessions: %v", err)
	}
	again.ExpectStreamError("system-shutdown")
	kept.ExpectStreamError("system-shutdown")
}

// TestParkedDirectTLS: a direct TLS session (XEP-0368), whose socket sits
// under crypto/tls from the start, parks and wakes like a STARTTLS one.
func TestParkedDirectTLS(t *testing.T) {
	t.Parallel()
	s := parkingServer(t, "juliet", "romeo")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Online()
	romeo := xmpptest.DialTLS(t, s.DirectTLSAddr, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	romeo.Open(xmpptest.Domain)
	romeo.Features()
	if el := romeo.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "romeo", "pw"); el.Name.Local != "success" {
		t.Fatalf("got %s", el)
	}
	romeo.Open(xmpptest.Domain)
	romeo.Features()
	romeo.Bind("orchard")
	for _, body := range []string{"one", "two"} {
		waitParked(t, romeo)
		romeo.Send("<message type='chat' to='" + juliet.JID + "'><body>" + body + "</body></message>")
		xmpptest.ExpectBody(t, juliet.NextNamed("message"), romeo.JID, body)
	}
}
