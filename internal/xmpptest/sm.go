package xmpptest

import (
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"xmppd/xmlstream"
)

// NSSM is the stream management namespace (XEP-0198).
const NSSM = "urn:xmpp:sm:3"

// DialFrom opens a TCP connection to addr from the local IP address local
// (e.g. "127.0.0.2", which Linux routes on loopback).
func DialFrom(t testing.TB, local string, addr net.Addr) *Client {
	t.Helper()
	d := net.Dialer{Timeout: ReadTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Client{T: t, Conn: conn}
}

// Authenticated logs in over c (a fresh connection) like Login, but stops
// before binding: it returns the stream features offered after
// authentication, where a client may bind or resume (XEP-0198).
func (c *Client) Authenticated(user, password string) *xmlstream.Element {
	c.T.Helper()
	c.Open(Domain)
	c.Features()
	c.StartTLS(Domain, TLSConfig(Domain, tls.VersionTLS13))
	c.Features()
	if el := c.Authenticate(Mechanism{Name: "SCRAM-SHA-256"}, user, password); el.Name.Local != "success" {
		c.T.Fatalf("login of %s failed: %s", user, el)
	}
	c.Open(Domain)
	return c.Features()
}

// SM is the client side of stream management in tests: it counts the
// stanzas received (H) and sent (Sent).
type SM struct {
	C    *Client
	ID   string // resumption id
	H    uint32 // stanzas received from the server
	Sent uint32 // stanzas sent to the server
	// AutoAck answers the server's <r/> in Next with <a h/>.
	AutoAck bool
}

// EnableSM enables resumable stream management on a bound stream.
func (c *Client) EnableSM() *SM {
	c.T.Helper()
	c.Send("<enable xmlns='" + NSSM + "' resume='true'/>")
	el := c.NextNamed("enabled")
	if el.Attr("resume") != "true" || el.Attr("id") == "" {
		c.T.Fatalf("not resumable: %s", el)
	}
	return &SM{C: c, ID: el.Attr("id"), AutoAck: true}
}

// Send sends a stanza and counts it.
func (sm *SM) Send(xml string) {
	sm.C.T.Helper()
	sm.C.Send(xml)
	sm.Sent++
}

// Next returns the next stanza or nonza other than <r/>, counting
// stanzas; <r/> is answered when AutoAck is set and skipped otherwise.
func (sm *SM) Next() *xmlstream.Element {
	sm.C.T.Helper()
	for {
		el := sm.C.Next()
		if el.Name.Space == NSSM && el.Name.Local == "r" {
			if sm.AutoAck {
				sm.Ack()
			}
			continue
		}
		if el.Name.Space == "jabber:client" {
			sm.H++
		}
		return el
	}
}

// Ack sends <a h/> with the count of stanzas received.
func (sm *SM) Ack() {
	sm.C.Send("<a xmlns='" + NSSM + "' h='" + strconv.FormatUint(uint64(sm.H), 10) + "'/>")
}

// Handled asks the server for its count (<r/>) and returns it.
func (sm *SM) Handled() uint32 {
	sm.C.T.Helper()
	sm.C.Send("<r xmlns='" + NSSM + "'/>")
	el := sm.Next()
	if el.Name.Space != NSSM || el.Name.Local != "a" {
		sm.C.T.Fatalf("got %s, want <a/>", el)
	}
	h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	if err != nil {
		sm.C.T.Fatalf("bad <a/>: %s", el)
	}
	return uint32(h)
}

// Resume sends <resume/> for previd on an authenticated stream, with h,
// and returns the answer (<resumed/> or <failed/>).
func (c *Client) Resume(previd string, h uint32) *xmlstream.Element {
	c.T.Helper()
	c.Send("<resume xmlns='" + NSSM + "' previd='" + previd + "' h='" + strconv.FormatUint(uint64(h), 10) + "'/>")
	c.Conn.SetReadDeadline(time.Now().Add(ReadTimeout))
	return c.Next()
}

// LoginSM logs user in to s over a new connection, binds resource and
// enables resumable stream management.
func LoginSM(t testing.TB, s *Server, user, password, resource string) *SM {
	t.Helper()
	c := Dial(t, s.C2SAddr)
	c.Authenticated(user, password)
	c.Bind(resource)
	return c.EnableSM()
}
