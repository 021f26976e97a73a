// Package component accepts external components (XEP-0114, Jabber
// Component Protocol): programs such as gateways, bridges and bots that
// connect to the server over TCP, prove that they know a secret shared
// with it, and then serve a domain of their own. Stanzas addressed to a
// component's domain go down its stream; the stanzas it sends from its
// domain are routed like any other.
//
// A domain has at most one stream at a time: a second connection for it
// is refused with conflict, as Prosody does. Stanzas for a component
// that is not connected are answered with service-unavailable.
package component

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/internal/accept"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Config is what a Server needs.
type Config struct {
	// Secrets maps each component's domain to its secret.
	Secrets map[string]string
	// Limits bound what components may send, as for clients.
	Limits xmlstream.Limits
	// QueueSize is how many stanzas may wait to be written to one
	// component; more are answered with resource-constraint. Default 2000.
	QueueSize int
	// HandshakeTimeout bounds the time from connecting to a successful
	// handshake. Default 60 s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one write to a component. Default 30 s.
	WriteTimeout time.Duration
	// Privileges are what each component, by domain, may do in the name
	// of the server's accounts (XEP-0356).
	Privileges map[string]Privileges
	// Hosts are the served domains; a component's privileges are told
	// from the one it is under.
	Hosts []string
	// Cluster shares the components among the nodes of a cluster; nil
	// when the server runs alone.
	Cluster Cluster
	// Logger receives connections and their errors; nil discards them.
	Logger *slog.Logger
}

// Cluster lets the nodes of a cluster share components: each component
// connects to one node, and the others forward its stanzas there
// (package cluster).
type Cluster interface {
	// Hold tells the other nodes that this node holds domain's stream
	// and has them forward its stanzas to deliver; with deliver nil, that
	// it no longer does.
	Hold(domain string, deliver func(context.Context, *xmlstream.Element))
	// HeldElsewhere reports whether another node holds domain's stream.
	HeldElsewhere(domain string) bool
	// Forward hands st to the node that holds domain's stream; false when
	// no other node does.
	Forward(domain string, st *xmlstream.Element) bool
}

// Server accepts component streams and is the router's component for
// each configured domain.
type Server struct {
	cfg    Config
	router *router.Router
	log    *slog.Logger
	links  map[string]*link // by domain; read-only after New

	streams accept.Group[*stream]
}

// New returns a Server for cfg's components and routes their domains to
// it through r. It panics if a domain is not valid: configuration
// validation checks them.
func New(cfg Config, r *router.Router) *Server {
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 2000)
	cfg.HandshakeTimeout = cmp.Or(cfg.HandshakeTimeout, time.Minute)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, 30*time.Second)
	s := &Server{cfg: cfg, router: r, log: cfg.Logger, links: map[string]*link{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for domain, secret := range cfg.Secrets {
		l := &link{s: s, domain: domain, secret: secret, jid: jid.MustParse(domain), privilegedIQs: make(chan struct{}, maxPrivilegedIQs)}
		s.links[domain] = l
		r.AddExternal(domain, l)
	}
	s.registerPrivilegedIQ()
	return s
}

// Serve accepts component connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	return s.streams.Serve(l, func(nc net.Conn) *stream { return newStream(s, nc) }, (*stream).serve)
}

// Shutdown stops accepting components and ends every stream with
// system-shutdown, waiting until they are closed or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.streams.Stop(func(c *stream) { c.end(streamErr("system-shutdown", "the server is stopping")) })
	return s.streams.Wait(ctx)
}

// link is the router's component for one domain: it hands stanzas to
// the domain's authenticated stream, if there is one.
type link struct {
	s              *Server
	domain, secret string
	jid            jid.JID       // the domain's
	privilegedIQs  chan struct{} // one token per privileged IQ under way

	mu     sync.Mutex
	stream *stream // nil while the component is not connected
}

// Route queues st for the component, or hands it to the node of the
// cluster the component is connected to.
func (l *link) Route(ctx context.Context, _, _ jid.JID, st *xmlstream.Element) {
	if l.current() == nil && l.s.cfg.Cluster != nil && l.s.cfg.Cluster.Forward(l.domain, st) {
		return
	}
	l.deliver(ctx, st)
}

// deliver queues st for the component's stream on this node, or answers
// it with an error when there is none or it is not keeping up.
func (l *link) deliver(ctx context.Context, st *xmlstream.Element) {
	switch c := l.current(); {
	case c == nil:
		if st.Name.Local == stanza.Presence && st.Attr("type") == "unavailable" {
			return
		}
		l.s.router.Bounce(ctx, st, stanza.ServiceUnavailable, "the component "+l.domain+" is not connected")
	case !c.enqueue(st):
		l.s.router.Bounce(ctx, st, stanza.ResourceConstraint, "the component "+l.domain+" is not keeping up")
	}
}

func (l *link) current() *stream {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stream
}

// claim makes c the domain's stream, unless another one is, here or on
// another node of the cluster.
func (l *link) claim(c *stream) bool {
	cl := l.s.cfg.Cluster
	if cl != nil && cl.HeldElsewhere(l.domain) {
		return false
	}
	l.mu.Lock()
	if l.stream != nil {
		l.mu.Unlock()
		return false
	}
	l.stream = c
	l.mu.Unlock()
	if cl != nil {
		cl.Hold(l.domain, l.deliver)
	}
	return true
}

// release forgets c if it is the domain's stream.
func (l *link) release(c *stream) {
	l.mu.Lock()
	mine := l.stream == c
	if mine {
		l.stream = nil
	}
	l.mu.Unlock()
	if mine && l.s.cfg.Cluster != nil {
		l.s.cfg.Cluster.Hold(l.domain, nil)
	}
}
