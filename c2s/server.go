// Package c2s serves client-to-server XMPP streams (RFC 6120): TCP with
// STARTTLS, direct TLS (XEP-0368), and any other Transport such as
// WebSocket (RFC 7395). It negotiates TLS, SASL and resource binding, then
// hands each bound session's stanzas to the router and writes what the
// router delivers through a bounded per-session queue.
package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/internal/clientaddr"
	"xmppd/router"
	"xmppd/xmlstream"
)

// Config configures client streams.
type Config struct {
	// Hosts are the served domains; the first names the server in errors
	// sent before the client said which host it wants.
	Hosts []string
	// TLS is the server's TLS configuration for STARTTLS; nil disables
	// STARTTLS.
	TLS *tls.Config
	// DirectTLS is the TLS configuration of direct TLS listeners
	// (XEP-0368); nil refuses them. New sets its NextProtos to the ALPN
	// protocol xmpp-client, on this configuration rather than a copy: a
	// copy of a certs.Store's configuration would not record the
	// certificate of each connection (certs.Store.TLSConfig).
	DirectTLS *tls.Config
	// RequireTLS refuses authentication on unencrypted streams.
	RequireTLS bool
	// Limits bound the XML a client may send.
	Limits xmlstream.Limits
	// QueueSize is how many stanzas may wait for one client.
	QueueSize int
	// NegotiationTimeout bounds the time from connect to resource binding.
	NegotiationTimeout time.Duration
	// NegotiatingPerAddress bounds the streams from one address that
	// have not bound a resource yet; more are refused with
	// policy-violation. Loopback addresses (a local proxy) are not
	// bounded; 0: no bound.
	NegotiatingPerAddress int
	// WriteTimeout bounds each write to a client.
	WriteTimeout time.Duration
	// Logger receives one line per connection event; nil discards.
	Logger *slog.Logger
	// Registrar serves in-band registration before authentication
	// (XEP-0077); nil when registration is off.
	Registrar Registrar
	// BindFeatures are the features, by namespace, that a Bind 2 request
	// (XEP-0386) may enable for its new session with an <enable/> of that
	// namespace, such as Message Carbons'. Each is called with
	// the session's full JID once the router knows it, before the client
	// is told it is bound.
	BindFeatures map[string]func(session jid.JID)
	// Bound is called when a Bind 2 request binds a session of account,
	// before the router knows the session: it does what the server does
	// for the account at such a bind, such as clearing the offline
	// messages the archive holds, and returns an element that Bind 2
	// adds to <bound/>, such as the archive's metadata (XEP-0386 §2.2);
	// nil, or a nil element, adds none. A resumption does not call it.
	Bound func(ctx context.Context, account jid.JID) (*xmlstream.Element, error)
	// ResumeTimeout is how long a stream-managed session (XEP-0198)
	// whose connection was lost waits to be resumed; 0 means 5 minutes,
	// negative disables resumption.
	ResumeTimeout time.Duration
	// AckEvery is after how many stanzas the server asks the client for an
	// acknowledgement (<r/>); 0 means 5.
	AckEvery int
	// AckDelay is how long unacknowledged stanzas may wait before the
	// server asks for an acknowledgement anyway; 0 means 2 seconds.
	AckDelay time.Duration
	// AckTimeout is how long the server waits for the answer to <r/>
	// before it considers the connection dead and closes it; 0 means one
	// minute.
	AckTimeout time.Duration
	// Waiting is told of the messages a session holds while its
	// connection is lost and it waits to be resumed: those not
	// acknowledged when the connection was lost, and each that arrives
	// meanwhile (push notifications, XEP-0357). It is called under the
	// session's lock, as Resumed is, so that it is never told of a
	// message after the resumption that re-sent it: it must not block
	// nor call back into c2s or the router; nil tells nobody.
	Waiting func(session jid.JID, msgs []*xmlstream.Element)
	// Resumed is told of each session resumed on a new connection
	// (XEP-0198), which waits no more: push notifications count the
	// messages of a waiting session. It is called under the session's
	// lock, like Waiting; nil tells nobody.
	Resumed func(session jid.JID)
	// CSIHoldLimit bounds the stanzas held for an inactive client
	// (XEP-0352) before they are sent anyway; 0 means 100.
	CSIHoldLimit int
	// ParkAfter is how long a bound TCP session waits for its client's
	// next element before it parks its reader (park.go); 0 means 2
	// seconds.
	ParkAfter time.Duration
	// RateLimit is how many bytes a second a bound client may send, with
	// bursts of four seconds' worth; reading from a client over it pauses.
	// 0 means no limit.
	RateLimit int
	// Elsewhere, in a cluster, finds the resumable sessions of the other
	// nodes; nil when there are none.
	Elsewhere Elsewhere
}

// Elsewhere is what a cluster does for stream management (XEP-0198): a
// client that lost its connection to one node may come back on another,
// which cannot resume the session but can end it at once, so that the
// client's new session gets what the old one held.
type Elsewhere interface {
	// ResumePrefix begins this node's resumption ids: it tells the other
	// nodes where a session waits.
	ResumePrefix() string
	// EndResumable ends the session with resumption id previd of the
	// account (a bare JID) on the node holding it, once that node has
	// routed again what the client had not acknowledged, and returns how
	// many of the client's stanzas the session handled. found is false
	// when no other node has it, or did not answer.
	EndResumable(ctx context.Context, previd, account string) (handled uint32, found bool)
	// Replace has the node holding the session bound to the full JID
	// full, if another node does, end it with conflict (RFC 6120
	// §7.7.2.2), and returns once the account's contacts and other
	// resources were told that it is unavailable, or when ctx ends: a
	// new session of full binds, and is announced, after that.
	Replace(ctx context.Context, full jid.JID)
}

// Registrar handles in-band registration (XEP-0077) on streams that are
// not authenticated yet.
type Registrar interface {
	// Features returns the stream features advertised before
	// authentication, if any.
	Features() []*xmlstream.Element
	// HandleIQ answers an IQ in the jabber:iq:register namespace, or an
	// XEP-0445 preauth IQ, from an unauthenticated client that asked for
	// domain, connected from remote (host:port), on a stream that is
	// encrypted when secure is true.
	HandleIQ(ctx context.Context, domain, remote string, secure bool, iq *xmlstream.Element) (reply *xmlstream.Element)
}

// Server accepts client streams.
type Server struct {
	cfg       Config
	router    *router.Router
	auth      *auth.Server
	tlsConfig *tls.Config
	log       *slog.Logger

	// mu guards the fields below. It is taken before any Session.mu.
	mu          sync.Mutex
	closing     bool
	listeners   map[net.Listener]bool
	conns       map[Transport]bool   // connections with a reader; false: still negotiating
	negotiating map[string]int       // streams still negotiating, by remote host
	sessions    map[*Session]bool    // bound sessions, attached or waiting for resumption
	resumable   map[string]*Session  // by stream management id
	expired     map[string]tombstone // recently ended resumable sessions, by id
	// tracking maps a stanza being routed to its receipt (receipt.go).
	tracking sync.Map
	// presented maps the TLS state of each negotiating stream to the
	// certificate its handshake presented (ServerCertificate).
	presented sync.Map
	// wg counts connections (until their reader returns) and sessions
	// (until terminate has re-routed their queue).
	wg sync.WaitGroup

	// logins counts the successful and failed authentications (Logins).
	logins struct{ ok, failed atomic.Uint64 }
}

// Logins returns how many authentications succeeded and failed, SASL2
// and FAST included.
func (srv *Server) Logins() (ok, failed uint64) {
	return srv.logins.ok.Load(), srv.logins.failed.Load()
}

// tombstone remembers an ended resumable session so that a late
// resumption fails with the inbound count the client needs (XEP-0198 §5).
type tombstone struct {
	account string // bare JID
	handled uint32
	at      time.Time
}

// New returns a Server routing through r and authenticating with a.
func New(cfg Config, r *router.Router, a *auth.Server) *Server {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1000
	}
	if cfg.NegotiationTimeout <= 0 {
		cfg.NegotiationTimeout = time.Minute
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.ResumeTimeout == 0 {
		cfg.ResumeTimeout = 5 * time.Minute
	}
	if cfg.AckEvery <= 0 {
		cfg.AckEvery = 5
	}
	if cfg.AckDelay <= 0 {
		cfg.AckDelay = 2 * time.Second
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = time.Minute
	}
	if cfg.CSIHoldLimit <= 0 {
		cfg.CSIHoldLimit = 100
	}
	if cfg.ParkAfter <= 0 {
		cfg.ParkAfter = 2 * time.Second
	}
	if cfg.DirectTLS != nil {
		cfg.DirectTLS.NextProtos = []string{"xmpp-client"}
	}
	srv := &Server{
		cfg:         cfg,
		router:      r,
		auth:        a,
		tlsConfig:   cfg.TLS,
		log:         cfg.Logger,
		listeners:   map[net.Listener]bool{},
		conns:       map[Transport]bool{},
		negotiating: map[string]int{},
		sessions:    map[*Session]bool{},
		resumable:   map[string]*Session{},
		expired:     map[string]tombstone{},
	}
	if srv.log == nil {
		srv.log = slog.New(slog.DiscardHandler)
	}
	// RFC 3921 sessions are a no-op kept for old clients (RFC 6121 Appendix E).
	noop := func(ctx context.Context, iq router.IQ) *xmlstream.Element { return iq.Result(nil) }
	r.HandleIQ(router.ToServer, "set", NSSession, "session", noop)
	r.HandleIQ(router.ToAccount, "set", NSSession, "session", noop)
	return srv
}

// Serve accepts connections on l until l is closed or Shutdown is called.
// With directTLS, each connection starts with a TLS handshake (XEP-0368).
func (srv *Server) Serve(l net.Listener, directTLS bool) error {
	if !srv.track(l) {
		l.Close()
		return net.ErrClosed
	}
	defer srv.untrack(l)
	tlsConfig := srv.cfg.DirectTLS
	if directTLS && tlsConfig == nil {
		return errors.New("c2s: direct TLS needs a TLS configuration")
	}
	backoff := time.Duration(0)
	for {
		conn, err := l.Accept()
		if err != nil {
			if srv.shuttingDown() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait, then go on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			srv.log.Error("c2s accept", "err", err)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if directTLS {
			conn = tls.Server(conn, tlsConfig)
		}
		t := newTCPTransport(conn, srv.cfg.Limits, srv.cfg.WriteTimeout)
		t.parkAfter = srv.cfg.ParkAfter
		go srv.ServeTransport(context.Background(), t)
	}
}

// ServeTransport negotiates a client stream on t, then serves the bound
// session on a goroutine of its own and returns.
func (srv *Server) ServeTransport(ctx context.Context, t Transport) {
	if !srv.addConn(t) {
		t.Close()
		return
	}
	remote := t.RemoteAddr()
	srv.log.Info("c2s connected", "remote", remote)
	t.SetReadDeadline(srv.negotiationDeadline())
	st := &stream{srv: srv, t: t, log: srv.log}
	host, counted := srv.startNegotiating(remote)
	if !counted {
		st.fail(&streamError{"policy-violation", "too many streams from your address are logging in at once"})
		t.Close()
		srv.removeConn(t)
		return
	}
	sess, resumed, err := st.negotiate(ctx)
	st.forgetConnectionState()
	srv.endNegotiating(host)
	if err != nil {
		t.Close()
		srv.removeConn(t)
		srv.log.Info("c2s closed", "remote", remote, "during", "negotiation", "err", err)
		return
	}
	t.SetReadDeadline(time.Time{})
	srv.setBound(t)
	if !resumed {
		if !srv.addSession(sess) {
			sess.release()
			sess.terminate("system-shutdown", "the server is stopping")
			srv.removeConn(t)
			return
		}
		if srv.cfg.Elsewhere != nil {
			rctx, cancel := context.WithTimeout(ctx, elsewhereTimeout)
			srv.cfg.Elsewhere.Replace(rctx, sess.jid)
			cancel()
		}
		srv.router.Bind(sess)
		if srv.router.Revoked(sess.jid.Bare(), st.loggedIn) {
			// Its account was deleted, or its password changed, since
			// the login: it ends as any ended session.
			sess.End(errRevoked.condition, errRevoked.text)
		} else {
			for _, enable := range st.onBound {
				enable(sess.jid)
			}
			if st.clientID != "" {
				srv.endEarlierOfClient(sess, st.clientID)
			}
		}
		sess.release()
	}
	// A fresh goroutine for the rest of the session: the TLS handshake and
	// SASL grew this one's stack, and an idle session should hold little.
	go sess.serve(ctx, t, st.readerDone, func() {
		srv.removeConn(t)
		srv.log.Info("c2s closed", "remote", remote, "jid", sess.jid.String())
	})
}

// startNegotiating counts a stream from remote that has yet to bind a
// resource, unless NegotiatingPerAddress streams from its host already
// are (counted false). An IPv6 host counts by its /64, which one client
// usually holds whole, as the failed-login throttle counts it: else new
// addresses of one /64 would open streams without bound, each waiting
// out its own failure delay.
func (srv *Server) startNegotiating(remote string) (host string, counted bool) {
	if srv.cfg.NegotiatingPerAddress <= 0 || clientaddr.IsLoopback(remote) {
		return "", true
	}
	host = clientaddr.Key(remote)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.negotiating[host] >= srv.cfg.NegotiatingPerAddress {
		return "", false
	}
	srv.negotiating[host]++
	return host, true
}

// endNegotiating uncounts a stream startNegotiating counted for host.
func (srv *Server) endNegotiating(host string) {
	if host == "" {
		return
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.negotiating[host]--; srv.negotiating[host] <= 0 {
		delete(srv.negotiating, host)
	}
}

func (srv *Server) track(l net.Listener) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing {
		return false
	}
	srv.listeners[l] = true
	return true
}

func (srv *Server) untrack(l net.Listener) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.listeners, l)
}

func (srv *Server) addConn(t Transport) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closing {
		return false
	}
	srv.conns[t] = false
	srv.wg.Add(1)
	return true
}

func (srv *Server) setBound(t Transport) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.conns[t] = true
}

func (srv *Server) removeConn(t Transport) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.conns, t)
	srv.wg.Done()
}

// addSession registers a newly bound session; false when shutting down.
func (srv *Server) addSession(s *Session) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.wg.Add(1)
	srv.sessions[s] = true
	return !srv.closing
}

// sessionEnded is the end of terminate.
func (srv *Server) sessionEnded() { srv.wg.Done() }

// remember makes s resumable under id.
func (srv *Server) remember(id string, s *Session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.resumable[id] = s
}

// forget removes an ending session from the tables, leaving a tombstone
// for a resumable one.
func (srv *Server) forget(s *Session) {
	id, handled := s.resumption()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.sessions, s)
	if id == "" || srv.resumable[id] != s {
		return
	}
	delete(srv.resumable, id)
	now := time.Now()
	for k, ts := range srv.expired {
		if now.Sub(ts.at) > srv.cfg.ResumeTimeout {
			delete(srv.expired, k)
		}
	}
	srv.expired[id] = tombstone{account: s.jid.Bare().String(), handled: handled, at: now}
}

// EndResumable ends the local session with resumption id previd of
// account (a bare JID), if it has not ended yet, after routing again what
// its client has not acknowledged, and returns the count of the client's
// stanzas it handled. found is false when there is no such session here,
// ended or not. A cluster node calls it for a client that came back on
// another node (Elsewhere).
func (srv *Server) EndResumable(previd, account string) (handled uint32, found bool) {
	s, ts, found := srv.lookupResumable(previd)
	switch {
	case s != nil && s.jid.Bare().String() == account:
		// Ending already, it ends in whichever goroutine began it; the
		// session keeps its count until then and after.
		s.terminate("conflict", "the client came back on another node")
		<-s.ended
		_, handled = s.resumption()
		return handled, true
	case s == nil && found && ts.account == account:
		return ts.handled, true
	}
	return 0, false
}

// Replace ends the local session bound to full with conflict, as a new
// session of full on another node replaces it (Elsewhere), and returns
// once it has left the router, its unavailable presence has gone out, and
// what its client had not acknowledged has been routed again; also when
// it was ending already.
func (srv *Server) Replace(full jid.JID) {
	if s, ok := srv.router.LocalSession(full).(*Session); ok {
		s.terminate("conflict", "replaced by a new session on another node")
		<-s.ended
	}
}

// lookupResumable returns the session with stream management id, or the
// tombstone of an ended one.
func (srv *Server) lookupResumable(id string) (*Session, tombstone, bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if s := srv.resumable[id]; s != nil {
		return s, tombstone{}, true
	}
	ts, ok := srv.expired[id]
	return nil, ts, ok
}

func (srv *Server) shuttingDown() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closing
}

// Shutdown stops accepting connections, ends every stream with a
// <system-shutdown/> stream error and waits until all have closed or ctx
// is done.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	for l := range srv.listeners {
		l.Close()
	}
	for t, bound := range srv.conns {
		if !bound {
			// The negotiating goroutine sees the deadline and sends the error.
			t.SetReadDeadline(time.Now())
		}
	}
	// Each session re-routes what its client has not acknowledged (to
	// offline storage) before it counts as ended: Shutdown returns after
	// that, and the caller closes the database only then.
	for s := range srv.sessions {
		s.End("system-shutdown", "the server is stopping")
	}
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
