package s2s

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"xmppd/xmlstream"
)

// errNoServer means the remote domain has no server that answers; its
// stanzas bounce with remote-server-not-found rather than
// remote-server-timeout.
var errNoServer = errors.New("no server found")

// errKeyRefused means the receiving server found our dialback key
// invalid; the stanzas queued for it bounce with internal-server-error
// (XEP-0220 §2.1.1).
var errKeyRefused = errors.New("dialback key refused")

// errAbandoned is the cause of a connection attempt's context ending when
// nobody waits for its outcome any more: the stream that asked for a
// dialback verification ended.
var errAbandoned = errors.New("nobody waits for the connection any more")

// target is one address of a remote server, and whether it speaks TLS
// from the first byte (XEP-0368) instead of offering STARTTLS.
type target struct {
	addr   string
	direct bool
}

// addresses returns where domain's server listens: the configured route,
// else the targets of its _xmpps-server._tcp (direct TLS, XEP-0368) and
// _xmpp-server._tcp SRV records, by priority, direct TLS first among
// equals (XEP-0368 allows preferring it; weights order each list, not
// the two together), else, when it has neither record, the domain itself
// on port 5269 (RFC 6120 §3.2.1). A record with the target "." says "not
// this service"; records of either kind, even such, mean the domain uses
// SRV, and no address of its own is tried.
func (s *Server) addresses(ctx context.Context, domain string) ([]target, error) {
	s.mu.Lock()
	route, resolver := s.routes[domain], s.resolver
	s.mu.Unlock()
	if route != "" {
		return []target{{addr: route}}, nil
	}
	if ip := strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]"); net.ParseIP(ip) != nil {
		// A domain that is an IP address (in brackets for IPv6, RFC 7622
		// §3.2) has no SRV records: its server is there, on 5269.
		return []target{{addr: net.JoinHostPort(ip, "5269")}}, nil
	}
	var direct, plain []*net.SRV
	looked := make(chan struct{})
	go func() {
		defer close(looked)
		_, direct, _ = resolver.LookupSRV(ctx, "xmpps-server", "tcp", domain)
	}()
	_, plain, _ = resolver.LookupSRV(ctx, "xmpp-server", "tcp", domain)
	<-looked
	if len(direct) == 0 && len(plain) == 0 {
		return []target{{addr: net.JoinHostPort(domain, "5269")}}, nil
	}
	direct, plain = service(direct), service(plain)
	if len(direct) == 0 && len(plain) == 0 {
		return nil, fmt.Errorf("%s: %w (its SRV records say it has no XMPP service)", domain, errNoServer)
	}
	// Each list is sorted by priority (and weight) already: merge them.
	var targets []target
	for len(direct) > 0 || len(plain) > 0 {
		if len(direct) > 0 && (len(plain) == 0 || direct[0].Priority <= plain[0].Priority) {
			targets = append(targets, target{addr: srvAddr(direct[0]), direct: true})
			direct = direct[1:]
		} else {
			targets = append(targets, target{addr: srvAddr(plain[0])})
			plain = plain[1:]
		}
	}
	return targets, nil
}

// service returns srvs without those with the target ".", which says
// "no such service here" (RFC 2782): alone, it leaves none; among others,
// it names no host, and must not be dialled as this one.
func service(srvs []*net.SRV) []*net.SRV {
	return slices.DeleteFunc(srvs, func(r *net.SRV) bool { return r.Target == "." || r.Target == "" })
}

// srvAddr returns the "host:port" of an SRV record.
func srvAddr(r *net.SRV) string {
	return net.JoinHostPort(strings.TrimSuffix(r.Target, "."), strconv.Itoa(int(r.Port)))
}

// clientTLS is the TLS configuration of a stream from local to remote.
// The handshake accepts any certificate: s.verified checks it afterwards,
// and without secure_auth dialback proves the domain when it fails, so a
// self-signed one does not stop federation (XEP-0220 §1.2).
func (s *Server) clientTLS(local, remote string) *tls.Config {
	cfg := &tls.Config{ServerName: remote, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	if s.cfg.Certificate != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert, err := s.cfg.Certificate(local); err == nil && cert != nil {
				return cert, nil
			}
			return &tls.Certificate{}, nil // none: dialback still works
		}
	}
	return cfg
}

// connect opens a connection to one target of remote's server, with the
// TLS handshake at a direct TLS one. It takes at most a third of the
// connect timeout, so that a target that drops packets leaves time for
// the next and for the stream's negotiation.
func (s *Server) connect(ctx context.Context, t target, local, remote string) (*conn, error) {
	negotiating := ctx
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout/3)
	defer cancel()
	s.mu.Lock()
	d := net.Dialer{Resolver: s.resolver}
	s.mu.Unlock()
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(negotiating, func() {
		if s.stopped.Err() != nil || errors.Is(context.Cause(negotiating), errAbandoned) {
			// The server stops, or nobody waits for the stream: no more
			// waiting for the peer.
			nc.SetDeadline(time.Now())
		}
	})
	c := newConn(nc, s.cfg.Limits, s.cfg.ConnectTimeout)
	if t.direct {
		cfg := s.clientTLS(local, remote)
		cfg.NextProtos = []string{alpn}
		if err := c.startTLS(ctx, cfg, true); err != nil {
			nc.Close()
			return nil, fmt.Errorf("direct TLS with %s: %w", t.addr, err)
		}
	}
	return c, nil
}

// open connects to remote's server and negotiates a stream from local:
// TLS from the first byte at a direct TLS address, else STARTTLS when
// offered (required unless RequireTLS is off), then, with authenticate,
// bidirectionality (XEP-0288) and SASL EXTERNAL when offered. It returns the connection with the stream's
// features read, the stream id the receiving server chose, and whether
// local is authenticated by certificate; if not, dialback is left to do.
func (s *Server) open(ctx context.Context, local, remote string, authenticate bool) (c *conn, id string, external bool, err error) {
	targets, err := s.addresses(ctx, remote)
	if err != nil {
		return nil, "", false, err
	}
	var dialErr error
	for _, t := range targets {
		if c, dialErr = s.connect(ctx, t, local, remote); dialErr != nil {
			continue
		}
		id, external, err = s.negotiateAt(ctx, c, local, remote, authenticate)
		var r *redirect
		if errors.As(err, &r) && ctx.Err() == nil {
			// RFC 6120 §4.9.3.19: the peer's server is elsewhere; the
			// same policies and name checks apply there (negotiate, with
			// remote). Once only: a second redirect is a failure.
			c.end(nil, local)
			s.log.Info("s2s outgoing stream redirected", "local", local, "remote", remote, "from", t.addr, "to", r.addr)
			t = target{addr: r.addr}
			if c, dialErr = s.connect(ctx, t, local, remote); dialErr != nil {
				continue
			}
			id, external, err = s.negotiateAt(ctx, c, local, remote, authenticate)
		}
		if err == nil {
			return c, id, external, nil
		}
		c.end(err, local)
		// A direct TLS port may lead somewhere else than an XMPP server
		// (a multiplexer on 443 sending it to a web server): the next
		// target may be one. A failure on a STARTTLS target is the
		// server's answer.
		if !t.direct || ctx.Err() != nil {
			return nil, "", false, fmt.Errorf("stream to %s: %w", remote, err)
		}
		c, dialErr = nil, fmt.Errorf("stream over direct TLS with %s: %w", t.addr, err)
	}
	// RFC 6120 §8.3.3.14: no answer at the resolved address is
	// remote-server-not-found; a failed negotiation is a timeout.
	return nil, "", false, fmt.Errorf("connecting to %s: %w (%v)", remote, errNoServer, dialErr)
}

// negotiateAt is negotiate within ctx's deadline.
func (s *Server) negotiateAt(ctx context.Context, c *conn, local, remote string, authenticate bool) (id string, external bool, err error) {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetReadDeadline(dl)
	}
	return s.negotiate(ctx, c, local, remote, authenticate)
}

// redirect is a peer's <see-other-host/> stream error (RFC 6120
// §4.9.3.19): its server is at addr ("host:port") instead.
type redirect struct{ addr string }

func (r *redirect) Error() string { return "redirected to " + r.addr + " (see-other-host)" }

// seeOtherHost returns the redirect that the stream error el says, if it
// is a <see-other-host/> naming a host, with a port or not (5269), an
// IPv6 address in brackets.
func seeOtherHost(el *xmlstream.Element) (*redirect, bool) {
	if el.Name.Space != xmlstream.NSStream || el.Name.Local != "error" {
		return nil, false
	}
	see := el.Child(nsStreamErrors, "see-other-host")
	if see == nil {
		return nil, false
	}
	to := strings.TrimSpace(see.Text())
	host, port, err := net.SplitHostPort(to)
	if err != nil {
		// No port: a name, an IPv4 address, or an IPv6 one in brackets.
		host, port = strings.TrimSuffix(strings.TrimPrefix(to, "["), "]"), "5269"
	}
	if n, err := strconv.Atoi(port); host == "" || strings.ContainsAny(host, "[]/ ") || err != nil || n < 1 || n > 65535 {
		return nil, false
	}
	return &redirect{addr: net.JoinHostPort(host, port)}, true
}

// negotiate opens the stream on c, encrypts it and, with authenticate,
// authenticates local by certificate if the peer offers it.
func (s *Server) negotiate(ctx context.Context, c *conn, local, remote string, authenticate bool) (id string, external bool, err error) {
	for {
		if err := c.writeHeader(local, remote, ""); err != nil {
			return "", false, err
		}
		h, err := c.readHeader()
		if err != nil {
			return "", false, err
		}
		if !strings.HasPrefix(h.Version, "1.") {
			// Before XMPP 1.0 a server sends no features, which we
			// would wait for until the negotiation times out.
			return "", false, streamErr("unsupported-version", remote+" answered with XMPP version '"+h.Version+"', not 1.x")
		}
		features, err := c.readElement()
		if err != nil {
			return "", false, err
		}
		if r, ok := seeOtherHost(features); ok {
			return "", false, r
		}
		if features.Name.Space != xmlstream.NSStream || features.Name.Local != "features" {
			return "", false, streamErr("unsupported-stanza-type", "expected stream features")
		}
		c.features = features
		if c.tls || features.Child(nsTLS, "starttls") == nil {
			switch {
			case !c.tls && s.cfg.RequireTLS:
				return "", false, streamErr("policy-violation", "encryption is required, and "+remote+" does not offer STARTTLS")
			case s.cfg.SecureAuth && !s.verified(c, remote):
				return "", false, fmt.Errorf("%w: the certificate of %s cannot be verified, and s2s.secure_auth is on", errNoServer, remote)
			}
			if authenticate {
				if err := s.requestBidi(c, features); err != nil {
					return "", false, err
				}
				if c.tls && offersExternal(features) {
					external, err = s.external(c, local, remote)
				}
			}
			return h.ID, external, err
		}
		if err := c.writeElements(xmlstream.NewElement(nsTLS, "starttls")); err != nil {
			return "", false, err
		}
		answer, err := c.readElement()
		if err != nil {
			return "", false, err
		}
		if answer.Name.Space != nsTLS || answer.Name.Local != "proceed" {
			return "", false, fmt.Errorf("%s refused STARTTLS", remote)
		}
		if err := c.startTLS(ctx, s.clientTLS(local, remote), true); err != nil {
			return "", false, fmt.Errorf("TLS with %s: %w", remote, err)
		}
	}
}

// authenticate proves local to remote's server over c with dialback
// (XEP-0220 §2.1): it sends the key for the stream id and waits for the
// verdict, which the receiving server gets from our own listener.
func (s *Server) authenticate(c *conn, local, remote, id string) error {
	key := dialbackKey(s.cfg.Secret, remote, local, id)
	if err := c.writeElements(xmlstream.NewElement(nsDialback, "result", "from", local, "to", remote).AddText(key)); err != nil {
		return err
	}
	for {
		el, err := c.readElement()
		if err != nil {
			return err
		}
		if el.Name.Space == xmlstream.NSStream && el.Name.Local == "error" {
			return fmt.Errorf("%s sent a stream error: %s", remote, describeError(el))
		}
		if el.Name.Space != nsDialback || el.Name.Local != "result" || el.Attr("from") != remote || el.Attr("to") != local || !isAnswer(el) {
			// Not our verdict: a request of the peer's, without a type,
			// is none (XEP-0220 §2.2), and is not ours to answer on
			// our stream (§2.1).
			continue
		}
		switch el.Attr("type") {
		case "valid":
			return nil
		case "invalid":
			return fmt.Errorf("%w by %s", errKeyRefused, remote)
		default:
			return fmt.Errorf("%s could not verify our dialback key: %s", remote, describeError(el))
		}
	}
}

// verify asks the server of originating, on a connection of its own,
// whether key is the one it sent to our receiving domain on the stream
// with the given id (XEP-0220 §2.3).
func (s *Server) verify(ctx context.Context, receiving, originating, id, key string) (bool, error) {
	c, _, _, err := s.open(ctx, receiving, originating, false)
	if err != nil {
		return false, err
	}
	defer c.end(nil, receiving)
	req := xmlstream.NewElement(nsDialback, "verify", "from", receiving, "to", originating, "id", id).AddText(key)
	if err := c.writeElements(req); err != nil {
		return false, err
	}
	for {
		el, err := c.readElement()
		if err != nil {
			return false, err
		}
		if el.Name.Space == xmlstream.NSStream && el.Name.Local == "error" {
			return false, fmt.Errorf("%s sent a stream error: %s", originating, describeError(el))
		}
		if el.Name.Space != nsDialback || el.Name.Local != "verify" || !isAnswer(el) {
			// A request, without a type, is no verdict (XEP-0220 §2.2),
			// even one that names our request's domains and id.
			continue
		}
		if el.Attr("from") != originating || el.Attr("to") != receiving || el.Attr("id") != id {
			// XEP-0220 §2.1.2: an answer whose addresses and id are not
			// those of our request, swapped, answers none of ours, and is
			// no verdict on this key: dropped.
			s.log.Info("s2s dialback: an answer to no verification request of ours dropped",
				"remote", originating, "local", receiving, "from", el.Attr("from"), "to", el.Attr("to"))
			continue
		}
		switch el.Attr("type") {
		case "valid":
			return true, nil
		case "invalid":
			return false, nil
		default:
			return false, fmt.Errorf("%s could not verify the key: %s", originating, describeError(el))
		}
	}
}

// isAnswer reports whether el, a dialback element, is an answer, which
// has a 'type' (valid, invalid or error: XEP-0220 §2.1), rather than a
// request, which has none (§2.2). Any 'type', even an empty or unknown
// one, makes it no request.
func isAnswer(el *xmlstream.Element) bool {
	return slices.ContainsFunc(el.Attrs, func(a xml.Attr) bool { return a.Name == xml.Name{Local: "type"} })
}

// describeError names the condition in a stream or dialback error.
func describeError(el *xmlstream.Element) string {
	if e := el.Child("", "error"); e != nil {
		el = e
	}
	for _, c := range el.ChildElements() {
		if c.Name.Local != "text" {
			return c.Name.Local
		}
	}
	return "no condition given"
}

// connectTimeout is the context for one connection attempt.
func (s *Server) connectTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.stopped, s.cfg.ConnectTimeout)
}
