package s2s

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"xmppd/internal/accept"
	"xmppd/internal/clientaddr"
	"xmppd/router"
	"xmppd/xmlstream"
)

// Config is what a Server needs.
type Config struct {
	// TLS is the server side of STARTTLS: the local domains' certificates,
	// chosen by SNI.
	TLS *tls.Config
	// Certificate returns a local domain's certificate, which outgoing
	// streams present as the TLS client's; nil presents none.
	Certificate func(domain string) (*tls.Certificate, error)
	// Secret keys the dialback keys; every node of a cluster shares it.
	Secret []byte
	// RequireTLS refuses peers that will not encrypt the stream.
	RequireTLS bool
	// Roots are the certificate authorities that peers' certificates are
	// verified against; nil means the system's. A peer whose certificate
	// verifies for its domain is authenticated by it (SASL EXTERNAL,
	// XEP-0178), without dialback.
	Roots *x509.CertPool
	// SecureAuth refuses peers whose certificates cannot be verified, in
	// both directions, instead of falling back to dialback. It needs
	// RequireTLS.
	SecureAuth bool
	// Routes maps remote domains to "host:port", looked up instead of DNS.
	Routes map[string]string
	// Limits bound what peers may send, as for clients.
	Limits xmlstream.Limits
	// RateLimit is how many bytes a second a peer may send on one
	// incoming stream, with bursts of four seconds' worth; reading from
	// a stream over it pauses. 0 means no limit.
	RateLimit int
	// NegotiatingPerAddress bounds the incoming streams from one address
	// that have not authenticated a domain yet; more are refused with
	// policy-violation. 0 means no bound.
	NegotiatingPerAddress int
	// MaxOutgoing bounds the streams this server opens to others at
	// once (those over peers' bidirectional streams are not counted); a
	// stanza for a pair that would need one more is bounced with
	// resource-constraint. 0 means no bound.
	MaxOutgoing int
	// QueueSize is how many stanzas may wait for one remote domain's
	// stream; more are bounced. Default 1000.
	QueueSize int
	// IdleTimeout closes an outgoing stream that carried nothing for this
	// long; an incoming stream may send no stanza for four times as long.
	// Either is closed as RFC 6120 §4.4 says: our side first, then the
	// peer's is awaited, for closeWait at most. Default 5 minutes.
	IdleTimeout time.Duration
	// ConnectTimeout bounds connecting to a remote server, encrypting and
	// authenticating the stream, and verifying a peer's key. Default 30 s.
	ConnectTimeout time.Duration
	// Outbox keeps the messages for other servers until they are sent,
	// across crashes and restarts; nil keeps them in memory only.
	Outbox Outbox
	// Claimer names this server's hold on outbox messages: a cluster
	// node's id. Empty: a new name at every start.
	Claimer string
	// Logger receives stream events; nil discards them.
	Logger *slog.Logger
}

// pair is the domains at both ends of a stream: a stream authenticates
// one originating domain for one receiving domain.
type pair struct{ local, remote string }

// Server accepts and opens server-to-server streams. It is the router's
// Remote.
type Server struct {
	cfg    Config
	router *router.Router
	log    *slog.Logger

	in accept.Group[*conn] // incoming streams

	mu       sync.Mutex
	routes   map[string]string
	resolver *net.Resolver // finds remote servers' SRV records
	// negotiating counts the incoming streams without an authenticated
	// domain, by remote address.
	negotiating map[string]int
	// inPairs counts the incoming streams on which each domain pair is
	// authenticated (maxStreamsPerPair).
	inPairs map[pair]int
	out     map[pair]*outStream
	// dialled counts the streams of out that are our own connections,
	// not the peers' bidirectional streams (MaxOutgoing).
	dialled int
	// bidi holds the incoming streams that may carry our stanzas back
	// to the peer (XEP-0288), by the pair each authenticated.
	bidi     map[pair]*conn
	stopping bool           // no more outgoing streams
	wg       sync.WaitGroup // the outgoing streams' goroutines
	// stopped ends with Shutdown, and with it the connection attempts.
	stopped context.Context
	stop    context.CancelFunc
}

// Streams returns how many streams other servers opened to this one, and
// how many this one opened to other servers: a bidirectional stream
// (XEP-0288) is counted once, by who opened it.
func (s *Server) Streams() (in, out int) {
	s.mu.Lock()
	for _, o := range s.out {
		if o.via == nil {
			out++
		}
	}
	s.mu.Unlock()
	return s.in.Len(), out
}

// New returns a Server delivering incoming stanzas to r. Install it with
// r.SetRemote.
func New(cfg Config, r *router.Router) *Server {
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 1000)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, 5*time.Minute)
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, 30*time.Second)
	cfg.Claimer = cmp.Or(cfg.Claimer, newClaimer())
	if cfg.TLS != nil {
		// Ask peers for their certificates, which are checked after the
		// handshake (verified), so that none, or one that does not
		// verify, still leaves dialback.
		cfg.TLS = cfg.TLS.Clone()
		cfg.TLS.ClientAuth = tls.RequestClientCert
	}
	s := &Server{cfg: cfg, router: r, log: cfg.Logger, routes: map[string]string{}, resolver: net.DefaultResolver, negotiating: map[string]int{}, inPairs: map[pair]int{}, out: map[pair]*outStream{}, bidi: map[pair]*conn{}}
	s.stopped, s.stop = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for d, a := range cfg.Routes {
		s.routes[d] = a
	}
	return s
}

// SetRoute makes connections to domain go to addr ("host:port") instead
// of the address DNS gives.
func (s *Server) SetRoute(domain, addr string) {
	s.mu.Lock()
	s.routes[domain] = addr
	s.mu.Unlock()
}

// SetResolver makes r look up the SRV records of remote domains instead
// of the system's resolver.
func (s *Server) SetResolver(r *net.Resolver) {
	s.mu.Lock()
	s.resolver = r
	s.mu.Unlock()
}

// startNegotiating counts an incoming stream from remote's address until
// it authenticates a domain, and returns what uncounts it; ok is false,
// and nothing counted, when NegotiatingPerAddress streams from there are
// counted already.
func (s *Server) startNegotiating(remote net.Addr) (done func(), ok bool) {
	if s.cfg.NegotiatingPerAddress <= 0 {
		return func() {}, true
	}
	host := clientaddr.Key(remote.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.negotiating[host] >= s.cfg.NegotiatingPerAddress {
		return nil, false
	}
	s.negotiating[host]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.negotiating[host]--; s.negotiating[host] <= 0 {
				delete(s.negotiating, host)
			}
		})
	}, true
}

// countPair counts one more incoming stream on which p is
// authenticated, unless maxStreamsPerPair are counted already.
func (s *Server) countPair(p pair) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inPairs[p] >= maxStreamsPerPair {
		return false
	}
	s.inPairs[p]++
	return true
}

// uncountPairs uncounts a stream on which the pairs were authenticated.
func (s *Server) uncountPairs(pairs map[pair]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range pairs {
		if s.inPairs[p]--; s.inPairs[p] <= 0 {
			delete(s.inPairs, p)
		}
	}
}

// alpn is the protocol name of server streams over direct TLS (XEP-0368).
const alpn = "xmpp-server"

// Serve accepts incoming server streams on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	return s.in.Serve(l, s.newConn, func(c *conn) { s.serveIn(c, nil) })
}

// ServeTLS accepts incoming server streams over direct TLS (XEP-0368) on
// l until Shutdown.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("s2s: direct TLS without certificates")
	}
	cfg := s.cfg.TLS.Clone()
	cfg.NextProtos = []string{alpn}
	return s.in.Serve(l, s.newConn, func(c *conn) { s.serveIn(c, cfg) })
}

func (s *Server) newConn(nc net.Conn) *conn { return newConn(nc, s.cfg.Limits, s.cfg.ConnectTimeout) }

// Shutdown stops accepting streams, ends every stream with
// <system-shutdown/>, bounces what still waits to be sent (the messages
// in the outbox wait for the next start instead), and waits for
// the streams' goroutines or ctx. An authenticated stream waits up to
// stopWait for the peer's end, handling what the peer sent before it
// (RFC 6120 §4.4).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true // before the incoming streams end: none hands its queue on
	for _, o := range s.out {
		o.stop()
	}
	s.mu.Unlock()
	s.stop() // after stopping: a connection attempt it ends keeps its messages
	s.in.Stop(func(c *conn) {
		err := streamErr("system-shutdown", "the server is stopping")
		if c.authenticated.Load() {
			// What the peer sent before it learns of our end is still
			// routed (RFC 6120 §4.4); its reader ends the stream.
			c.linger(err, "", stopWait)
			return
		}
		c.end(err, "")
	})
	if err := s.in.Wait(ctx); err != nil {
		return err
	}
	return accept.Wait(ctx, &s.wg)
}
