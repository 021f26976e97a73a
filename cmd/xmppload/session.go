package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"xmppd/xmlstream"
)

// Namespaces the client speaks (RFC 6120, XEP-0199).
const (
	nsStreams = "http://etherx.jabber.org/streams"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// client is what every session of a run shares.
type client struct {
	addrs             []string      // the nodes, dialed in turn
	logins            atomic.Uint64 // picks the next node
	domain, mechanism string
	tls               *tls.Config
	keys              *keyCache
	timeout           time.Duration // one login, one write, closing a batch
	// onStanza, if set, sees every element a held session receives, in
	// the session's read goroutine: scenarios that exchange stanzas set it
	// before their logins.
	onStanza func(s *session, el *xmlstream.Element)
	// lastRead is when a held session last read an element (Unix ns).
	lastRead atomic.Int64
}

// newClient returns the shared client settings for o.
func newClient(o *options) *client {
	return &client{
		addrs:     o.addrs(),
		domain:    o.domain,
		mechanism: o.mechanism,
		tls:       tlsConfig(o),
		keys:      newKeyCache(o.mechanism, o.password),
		timeout:   o.opTimeout,
	}
}

// tlsConfig is the TLS client configuration of every session. By default
// it offers X25519 alone: the hybrid post-quantum group that Go offers
// first is not in the OpenSSL of Debian 12, so Prosody and ejabberd would
// do a cheaper key exchange than xmppd in the same run.
func tlsConfig(o *options) *tls.Config {
	c := &tls.Config{ServerName: o.domain, InsecureSkipVerify: !o.tlsVerify, MinVersion: tls.VersionTLS12}
	if o.kex == "x25519" {
		c.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	return c
}

// phases are how long each step of a login took.
type phases struct {
	connect time.Duration // TCP
	tls     time.Duration // stream header, features, STARTTLS, handshake, new stream
	sasl    time.Duration // SCRAM exchange
	bind    time.Duration // stream restart and resource binding
	online  time.Duration // initial presence reflected and one ping answered
}

// session is one client stream. After hold, a goroutine reads everything
// the server sends until the stream ends.
type session struct {
	c       *client
	conn    net.Conn
	dec     *xmlstream.Decoder
	jid     string
	wmu     sync.Mutex
	closing atomic.Bool
	done    chan struct{} // closed when the read loop stops
	endErr  error         // why it stopped; read after done
	dropped bool          // the stream ended before close was called
}

// phaseError is a failed login step. Its text leaves out addresses and
// names so that equal failures count together.
type phaseError struct {
	phase string
	err   error
}

func (e *phaseError) Error() string {
	var op *net.OpError
	var sys *os.SyscallError
	switch {
	case errors.Is(e.err, os.ErrDeadlineExceeded):
		return e.phase + ": timeout"
	case errors.As(e.err, &sys):
		return e.phase + ": " + sys.Err.Error()
	case errors.As(e.err, &op):
		return e.phase + ": " + op.Err.Error()
	}
	return e.phase + ": " + e.err.Error()
}

func (e *phaseError) Unwrap() error { return e.err }

// login connects, negotiates STARTTLS, authenticates user with SCRAM, binds
// resource, sends initial presence and waits for its reflection and for a
// ping answer. It is bounded by the client timeout and by ctx.
func (c *client) login(ctx context.Context, user, resource string) (*session, phases, error) {
	var p phases
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	t0 := time.Now()
	mark := func(d *time.Duration) {
		now := time.Now()
		*d, t0 = now.Sub(t0), now
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", c.addrs[c.logins.Add(1)%uint64(len(c.addrs))])
	if err != nil {
		return nil, p, &phaseError{"connect", err}
	}
	mark(&p.connect)
	s := &session{c: c, conn: conn}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	steps := []struct {
		name string
		run  func() error
		d    *time.Duration
	}{
		{"tls", func() error { return s.startTLS(ctx) }, &p.tls},
		{"sasl", func() error { return s.authenticate(user) }, &p.sasl},
		{"bind", func() error { return s.bind(resource) }, &p.bind},
		{"online", s.online, &p.online},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			s.conn.Close()
			return nil, p, &phaseError{st.name, err}
		}
		mark(st.d)
	}
	if !stop() {
		// ctx ended as the login finished: the deadline may already be
		// in the past.
		s.conn.Close()
		return nil, p, &phaseError{"online", context.Cause(ctx)}
	}
	s.conn.SetDeadline(time.Time{})
	return s, p, nil
}

// send writes raw XML within the client timeout.
func (s *session) send(xml string) error {
	return s.sendBy(xml, time.Now().Add(s.c.timeout))
}

// sendBy writes raw XML before deadline.
func (s *session) sendBy(xml string, deadline time.Time) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(deadline)
	_, err := s.conn.Write([]byte(xml))
	return err
}

// next reads the server's next element; a stream error is an error.
func (s *session) next() (*xmlstream.Element, error) {
	el, err := s.dec.ReadElement()
	if err != nil {
		return nil, err
	}
	if el.Name.Space == nsStreams && el.Name.Local == "error" {
		return nil, fmt.Errorf("stream error %s", condition(el))
	}
	return el, nil
}

// expect reads the next element and checks its name.
func (s *session) expect(space, local string) (*xmlstream.Element, error) {
	el, err := s.next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space != space || el.Name.Local != local {
		return nil, fmt.Errorf("got <%s xmlns='%s'>, want <%s xmlns='%s'>", el.Name.Local, el.Name.Space, local, space)
	}
	return el, nil
}

// open sends a stream header, reads the server's and returns its features.
func (s *session) open() (*xmlstream.Element, error) {
	hdr := "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='" + nsStreams +
		"' to='" + string(xmlstream.AppendEscaped(nil, s.c.domain)) + "' version='1.0'>"
	if err := s.send(hdr); err != nil {
		return nil, err
	}
	if s.dec == nil {
		s.dec = xmlstream.NewDecoder(s.conn, xmlstream.Limits{})
	}
	if _, err := s.dec.ReadHeader(); err != nil {
		return nil, err
	}
	return s.expect(nsStreams, "features")
}

// startTLS opens the stream, upgrades it with STARTTLS and opens it again.
func (s *session) startTLS(ctx context.Context) error {
	f, err := s.open()
	if err != nil {
		return err
	}
	if f.Child(nsTLS, "starttls") == nil {
		return errors.New("the server does not offer STARTTLS")
	}
	if err := s.send("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		return err
	}
	if _, err := s.expect(nsTLS, "proceed"); err != nil {
		return err
	}
	tc := tls.Client(s.conn, s.c.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	s.conn, s.dec = tc, nil
	return nil
}

// authenticate opens the encrypted stream and runs SCRAM as user.
func (s *session) authenticate(user string) error {
	f, err := s.open()
	if err != nil {
		return err
	}
	if !offers(f, s.c.mechanism) {
		return fmt.Errorf("the server does not offer %s", s.c.mechanism)
	}
	conv, err := s.c.keys.conversation(user)
	if err != nil {
		return err
	}
	first, err := conv.Step("")
	if err != nil {
		return err
	}
	if err := s.send("<auth xmlns='" + nsSASL + "' mechanism='" + s.c.mechanism + "'>" + b64(first) + "</auth>"); err != nil {
		return err
	}
	for challenges := 0; ; challenges++ {
		el, err := s.next()
		if err != nil {
			return err
		}
		data, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			return fmt.Errorf("<%s/>: %w", el.Name.Local, err)
		}
		switch el.Name.Local {
		case "challenge":
			if challenges == 0 {
				s.c.keys.noteServerFirst(user, string(data))
			}
			resp, err := conv.Step(string(data))
			if err != nil {
				return err
			}
			if err := s.send("<response xmlns='" + nsSASL + "'>" + b64(resp) + "</response>"); err != nil {
				return err
			}
		case "success":
			if _, err := conv.Step(string(data)); err != nil {
				return fmt.Errorf("server signature: %w", err)
			}
			return nil
		case "failure":
			return fmt.Errorf("failure %s", condition(el))
		default:
			return fmt.Errorf("unexpected <%s/>", el.Name.Local)
		}
	}
}

// bind restarts the stream and binds resource.
func (s *session) bind(resource string) error {
	f, err := s.open()
	if err != nil {
		return err
	}
	if f.Child(nsBind, "bind") == nil {
		return errors.New("the server does not offer resource binding")
	}
	res := string(xmlstream.AppendEscaped(nil, resource))
	if err := s.send("<iq type='set' id='xl-bind'><bind xmlns='" + nsBind + "'><resource>" + res + "</resource></bind></iq>"); err != nil {
		return err
	}
	el, err := s.expect("jabber:client", "iq")
	if err != nil {
		return err
	}
	if el.Attr("type") != "result" || el.Attr("id") != "xl-bind" {
		return fmt.Errorf("bind answered with type %q %s", el.Attr("type"), condition(el.Child("", "error")))
	}
	if b := el.Child(nsBind, "bind"); b != nil && b.Child("", "jid") != nil {
		s.jid = b.Child("", "jid").Text()
	}
	if s.jid == "" {
		return errors.New("bind result without a JID")
	}
	return nil
}

// online sends initial presence and a ping to the server, then reads until
// the presence came back to this resource and the ping was answered.
// Presence of the account's other resources is skipped.
func (s *session) online() error {
	domain := string(xmlstream.AppendEscaped(nil, s.c.domain))
	if err := s.send("<presence/><iq type='get' id='xl-ping' to='" + domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); err != nil {
		return err
	}
	presence, pong := false, false
	for !presence || !pong {
		el, err := s.next()
		if err != nil {
			return err
		}
		switch {
		case el.Name.Local == "presence" && el.Attr("from") == s.jid:
			presence = true
		case el.Name.Local == "iq" && el.Attr("id") == "xl-ping":
			if el.Attr("type") != "result" {
				return fmt.Errorf("ping answered with type %q %s", el.Attr("type"), condition(el.Child("", "error")))
			}
			pong = true
		}
	}
	return nil
}

// offers reports whether features list SASL mechanism mech.
func offers(features *xmlstream.Element, mech string) bool {
	if m := features.Child(nsSASL, "mechanisms"); m != nil {
		for _, c := range m.ChildElements() {
			if c.Text() == mech {
				return true
			}
		}
	}
	return false
}

// condition names the first child element of a stream error, SASL failure
// or stanza error, such as "not-authorized".
func condition(el *xmlstream.Element) string {
	if el == nil {
		return ""
	}
	for _, c := range el.ChildElements() {
		if c.Name.Local != "text" {
			return c.Name.Local
		}
	}
	return "(no condition)"
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
