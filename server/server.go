// Package server wires xmppd together: storage, certificates, the router
// and its modules, and the listeners, started and stopped in order.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/acme"
	"xmppd/auth"
	"xmppd/c2s"
	"xmppd/carbons"
	"xmppd/certs"
	"xmppd/cluster"
	"xmppd/component"
	"xmppd/config"
	"xmppd/entitytime"
	"xmppd/extdisco"
	"xmppd/httpd"
	"xmppd/ping"
	"xmppd/proxy65"
	"xmppd/register"
	"xmppd/router"
	"xmppd/s2s"
	"xmppd/storage"
	"xmppd/storage/localpg"
	"xmppd/storage/postgres"
	"xmppd/upload"
	"xmppd/version"
	"xmppd/xmlstream"
)

// Version is the xmppd version reported to clients (XEP-0092).
var Version = "0.1.0-dev"

// Server is one running xmppd node.
type Server struct {
	cfg    config.Config
	log    *slog.Logger
	db     *Database
	certs  *certs.Store
	router *router.Router
	c2s    *c2s.Server
	s2s    *s2s.Server // nil without federation
	// components is nil when no external component is configured.
	components *component.Server
	http       *http.Server
	metrics    *http.Server   // nil when metrics.listen is empty
	proxy65    *proxy65.Relay // nil when proxy65.listen is empty
	acme       *acme.Manager  // nil when acme is off
	acmeHTTP   *http.Server   // nil without acme.http_listen
	stopACME   func(context.Context)
	// modules holds what stops the feature modules.
	modules *wiring
	// stopDeletes ends the listener for `xmppd user delete` (delete.go),
	// which closes deletesDone.
	stopDeletes context.CancelFunc
	deletesDone chan struct{}
	// nodeConn, opened by New and handed to the listener by Start, holds
	// the node lock (nodelock.go) in the session nodeSession; displaced
	// says when the lock, lost, could not be taken again.
	nodeConn    *pgx.Conn
	nodeSession *nodeSession
	displaced   chan error

	// Addresses the listeners are bound to, for tests that listen on port 0.
	C2SAddr, DirectTLSAddr, HTTPAddr, HTTPSAddr, S2SAddr, ComponentAddr, MetricsAddr, Proxy65Addr, ACMEAddr, S2STLSAddr net.Addr
}

// Database is the open PostgreSQL, and the private server behind it when
// xmppd runs one itself.
type Database struct {
	Pool    *pgxpool.Pool
	private *localpg.Server
}

// checkFormerDataDir refuses to make a new private PostgreSQL at dir when
// there is none there but there is one where a relative data_dir pointed
// before it was taken relative to the configuration file (the working
// directory): starting afresh would hide every account and message.
func checkFormerDataDir(cfg config.Config, dir string) error {
	former := cfg.FormerDataDir()
	if former == "" {
		return nil
	}
	formerDB := filepath.Join(former, "postgres")
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(formerDB); err != nil {
		return nil
	}
	return fmt.Errorf("the private PostgreSQL is at %s, but data_dir is now taken relative to the configuration file's directory (%s): "+
		"set data_dir to %q, or move %s there", formerDB, cfg.DataDir, former, former)
}

// OpenDatabase connects to cfg's database, starting a private PostgreSQL
// under the data directory when no URL is configured, and applies
// migrations.
func OpenDatabase(ctx context.Context, cfg config.Config, log *slog.Logger) (*Database, error) {
	db := &Database{}
	url := cfg.Database.URL
	if url == "" {
		dir := filepath.Join(cfg.DataDir, "postgres")
		if err := checkFormerDataDir(cfg, dir); err != nil {
			return nil, err
		}
		log.Info("no database.url configured; starting a private PostgreSQL", "dir", dir)
		pg, err := localpg.Start(ctx, dir, localpg.Options{})
		switch {
		case errors.Is(err, localpg.ErrInUse):
			// A running xmppd owns it; commands like `user add` share it.
			if url, err = localpg.RunningURL(dir); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, fmt.Errorf("starting the private PostgreSQL (or set database.url): %w", err)
		default:
			db.private = pg
			url = pg.URL()
		}
	}
	pool, err := storage.Open(ctx, url)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.Pool = pool
	return db, nil
}

// Close closes the pool and stops a private PostgreSQL.
func (db *Database) Close() {
	if db.Pool != nil {
		db.Pool.Close()
	}
	if db.private != nil {
		db.private.Stop()
	}
}

// New builds a server for cfg: it opens the database and loads the
// certificates, but does not listen yet.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	db, err := OpenDatabase(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if cfg.Database.URL == "" && db.private == nil {
		// Another xmppd (a server, or a command such as `user add`)
		// runs the private PostgreSQL and stops it when it ends.
		db.Close()
		return nil, fmt.Errorf("the private PostgreSQL in %s is in use by another xmppd (a server, or a command such as user add or import): stop it first",
			filepath.Join(cfg.DataDir, "postgres"))
	}
	s, err := NewWithDatabase(ctx, cfg, log, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// NewWithDatabase builds a server on an open database, which it closes on
// Shutdown. It fails when another server that is not a node of the same
// cluster runs on the database (nodelock.go).
func NewWithDatabase(ctx context.Context, cfg config.Config, log *slog.Logger, db *Database) (_ *Server, err error) {
	nodeConn, session, err := openNodeConnection(ctx, db.Pool, cfg.Cluster.NATS != "", nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			nodeConn.Close(context.WithoutCancel(ctx))
		}
	}()
	hostCerts := make([]certs.HostCert, 0, len(cfg.Hosts))
	files := map[string]config.Certificate{}
	for _, c := range cfg.TLS.Certificates {
		files[c.Host] = c
	}
	var acmeDomains []string
	if cfg.ACME.Enabled {
		acmeDomains = cfg.ACME.DomainsOr(cfg.Hosts, cfg.TLS.Certificates)
	}
	for _, h := range cfg.Hosts {
		hostCerts = append(hostCerts, certs.HostCert{Host: h, CertFile: files[h].Cert, KeyFile: files[h].Key,
			ACME: slices.Contains(acmeDomains, h)})
	}
	for _, c := range cfg.TLS.Certificates {
		if !contains(cfg.Hosts, c.Host) {
			hostCerts = append(hostCerts, certs.HostCert{Host: c.Host, CertFile: c.Cert, KeyFile: c.Key})
		}
	}
	certStore, err := certs.New(certs.Config{Hosts: hostCerts, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	roots, err := trustedRoots("s2s.ca_file", cfg.S2S.CAFile)
	if err != nil {
		return nil, err
	}
	var certManager *acme.Manager
	if cfg.ACME.Enabled {
		if certManager, err = newACME(cfg.ACME, acmeDomains, db.Pool, certStore, log); err != nil {
			return nil, err
		}
	}
	accounts := postgres.NewAccounts(db.Pool)
	secret, err := postgres.ServerSecret(ctx, db.Pool)
	if err != nil {
		return nil, err
	}
	// The client streams, made below, know which certificate each
	// connection's session is bound to.
	var streams *c2s.Server
	sasl, err := auth.NewServer(auth.Config{
		Store:             accounts,
		Secret:            secret,
		ServerCertificate: func(cs *tls.ConnectionState) *x509.Certificate { return streams.ServerCertificate(cs) },
		Hashes:            cfg.C2S.SCRAMHashes,
		Tokens:            postgres.NewTokens(db.Pool),
	})
	if err != nil {
		return nil, err
	}
	r := router.New(router.Config{Hosts: cfg.Hosts, Accounts: accounts, Logger: log})
	ping.Register(r)
	version.Register(r, "xmppd", Version)
	entitytime.Register(r, time.Now)
	extdisco.Register(r, externalServices(cfg.ExternalServices), time.Now)
	limits := xmlstream.Limits{MaxStanzaBytes: cfg.Limits.MaxStanzaBytes, MaxDepth: cfg.Limits.MaxDepth}
	var s *Server
	w := &wiring{cfg: cfg, log: log, pool: db.Pool, router: r, accounts: accounts,
		httpAddrs: func() (net.Addr, net.Addr) { return s.HTTPAddr, s.HTTPSAddr }}
	if cfg.Cluster.NATS != "" {
		if w.cluster, err = cluster.New(cluster.Config{
			URL:       cfg.Cluster.NATS,
			Subject:   cfg.Cluster.Subject,
			Heartbeat: time.Duration(cfg.Cluster.HeartbeatMS) * time.Millisecond,
			Timeout:   time.Duration(cfg.Cluster.TimeoutMS) * time.Millisecond,
			Limits:    limits,
			Logger:    log,
		}, r); err != nil {
			return nil, err
		}
	}
	if err := w.modules(ctx); err != nil {
		if w.cluster != nil {
			w.cluster.Close(ctx)
		}
		return nil, err
	}

	var elsewhere c2s.Elsewhere // not a nil *cluster.Cluster
	if w.cluster != nil {
		elsewhere = w.cluster
	}
	resume := time.Duration(cfg.C2S.ResumeSeconds) * time.Second
	if resume <= 0 {
		resume = -1 // c2s: negative disables resumption
	}
	streams = c2s.New(c2s.Config{
		Waiting:               w.waiting(),
		Resumed:               w.resumed(),
		Registrar:             w.registrar,
		Hosts:                 cfg.Hosts,
		TLS:                   certStore.TLSConfig(),
		DirectTLS:             certStore.TLSConfig(),
		RequireTLS:            cfg.C2S.RequireTLS,
		Limits:                limits,
		QueueSize:             cfg.Limits.SessionQueue,
		NegotiationTimeout:    time.Duration(cfg.Limits.NegotiationSeconds) * time.Second,
		NegotiatingPerAddress: cfg.Limits.NegotiatingPerAddress,
		ResumeTimeout:         resume,
		ParkAfter:             cfg.C2S.ParkAfter,
		Elsewhere:             elsewhere,
		RateLimit:             cfg.Limits.ClientBytesPerSecond,
		Bound:                 w.bound(),
		BindFeatures: map[string]func(jid.JID){
			carbons.NS: func(session jid.JID) { r.Mark(session, carbons.Mark, true) },
		},
		Logger: log,
	}, r, sasl)
	s = &Server{cfg: cfg, log: log, db: db, certs: certStore, acme: certManager, router: r, c2s: streams, modules: w,
		nodeConn: nodeConn, nodeSession: session, displaced: make(chan error, 1)}
	if w.cluster != nil {
		w.cluster.SetHold(streams.Hold)
		w.cluster.SetResumable(streams.EndResumable)
		w.cluster.SetReplace(streams.Replace)
	}
	if cfg.S2S.Listen != "" {
		s.s2s = s2s.New(s2s.Config{
			TLS:                   certStore.TLSConfig(),
			Certificate:           certStore.Certificate,
			Secret:                secret,
			RequireTLS:            cfg.S2S.RequireTLS,
			Roots:                 roots,
			SecureAuth:            cfg.S2S.SecureAuth,
			Routes:                cfg.S2S.Routes,
			Limits:                limits,
			IdleTimeout:           time.Duration(cfg.S2S.IdleSeconds) * time.Second,
			RateLimit:             cfg.Limits.ServerBytesPerSecond,
			NegotiatingPerAddress: cfg.Limits.ServerNegotiatingPerAddress,
			MaxOutgoing:           cfg.Limits.ServerOutgoingStreams,
			Outbox:                postgres.NewOutbox(db.Pool),
			Claimer:               w.clusterID(),
			Logger:                log,
		}, r)
		r.SetRemote(s.s2s)
	}
	if len(cfg.Components.External) > 0 {
		secrets, privileges := map[string]string{}, map[string]component.Privileges{}
		for _, ec := range cfg.Components.External {
			secrets[ec.Domain] = ec.Secret
			privileges[ec.Domain] = component.Privileges(ec.Privileges)
		}
		ccfg := component.Config{
			Secrets:          secrets,
			Privileges:       privileges,
			Hosts:            cfg.Hosts,
			Limits:           limits,
			QueueSize:        cfg.Limits.SessionQueue,
			HandshakeTimeout: time.Duration(cfg.Limits.NegotiationSeconds) * time.Second,
			Logger:           log,
		}
		if w.cluster != nil {
			ccfg.Cluster = w.cluster
		}
		s.components = component.New(ccfg, r)
	}
	if cfg.Proxy65.Listen != "" {
		s.proxy65 = proxy65.NewRelay(proxy65.RelayConfig{Logger: log})
		for _, host := range cfg.Hosts {
			proxy65.New(r, proxy65.Config{
				Domain:  "proxy." + host,
				Hosts:   cfg.Hosts,
				Address: func() (string, int) { return s.proxy65Address(host) },
				Relay:   s.proxy65,
				Logger:  log,
			}).Register()
		}
	}
	if cfg.HTTP.Enabled() {
		proxies, err := cfg.HTTP.TrustedProxyPrefixes()
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("/", httpd.Handler(httpd.Config{
			WebSocketPath:  cfg.HTTP.WebSocketPath,
			BOSHPath:       cfg.HTTP.BOSHPath,
			BOSHInactivity: time.Duration(cfg.HTTP.BOSHInactivitySeconds) * time.Second,
			BehindTLSProxy: cfg.HTTP.BehindTLSProxy,
			PublicURL:      cfg.HTTP.PublicURL,
			Hosts:          announcedHosts(cfg),
			TrustedProxies: proxies,
			Limits:         limits,
			Logger:         log,
		}, streams))
		if w.uploads != nil {
			mux.Handle(upload.Path, w.uploads.Handler())
		}
		if certManager != nil {
			mux.Handle(acme.ChallengePath, certManager.Handler(nil))
		}
		if w.invitePage != nil {
			mux.Handle(register.InvitePath, w.invitePage)
		}
		// Failed handshakes and bad requests from anyone who connects are
		// not the operator's errors.
		// An idle kept-alive connection is closed after the time a BOSH
		// client may go without a request: without IdleTimeout (nor
		// ReadTimeout) it would stay open for good, and anyone could
		// pile them up until no listener can accept.
		s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			// An HTTPS connection's handshake records the certificate
			// its session is bound to, for WebSocket logins bound to
			// it.
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				if _, ok := c.(*tls.Conn); ok {
					return certs.WithPresented(ctx, new(certs.Presented))
				}
				return ctx
			},
			IdleTimeout: time.Duration(cfg.HTTP.BOSHInactivitySeconds) * time.Second,
			ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelInfo)}
	}
	return s, nil
}

// announcedHosts are the names host-meta may announce as a request's Host
// header gives them: the served domains, then the HTTP listeners' hosts
// when they name one (not "" nor an unspecified address such as 0.0.0.0).
func announcedHosts(cfg config.Config) []string {
	hosts := slices.Clone(cfg.Hosts)
	for _, l := range []string{cfg.HTTP.Listen, cfg.HTTP.ListenTLS} {
		host, _, err := net.SplitHostPort(l)
		if err != nil || host == "" {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && a.IsUnspecified() {
			continue
		}
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

// trustedRoots returns the system's certificate authorities with those
// of caFile (the setting's value) added, or nil (the system's) when
// caFile is empty.
func trustedRoots(setting, caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pemCerts, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pemCerts) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", setting, caFile)
	}
	return roots, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Start opens the configured listeners and serves in the background, and
// listens for `xmppd user delete` (delete.go).
func (s *Server) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopDeletes, s.deletesDone = cancel, make(chan struct{})
	s.listenForDeletes(ctx, s.nodeConn, s.deletesDone)
	if c := s.modules.cluster; c != nil {
		if err := c.Join(ctx); err != nil {
			return err
		}
	}
	if s.acme != nil {
		// Handshakes from the first one on get the stored certificates.
		s.acme.LoadStored(ctx)
	}
	var err error
	// First: clients asking proxy.<host> for its address read Proxy65Addr.
	if s.proxy65 != nil {
		if s.Proxy65Addr, err = s.listen("proxy65.listen", s.cfg.Proxy65.Listen, s.proxy65.Serve); err != nil {
			return err
		}
	}
	if s.s2s != nil {
		if s.S2SAddr, err = s.listen("s2s.listen", s.cfg.S2S.Listen, s.s2s.Serve); err != nil {
			return err
		}
	}
	if s.s2s != nil && s.cfg.S2S.ListenTLS != "" {
		if s.S2STLSAddr, err = s.listen("s2s.listen_tls", s.cfg.S2S.ListenTLS, s.s2s.ServeTLS); err != nil {
			return err
		}
	}
	// Messages for other servers kept before this start go before any
	// a client sends now, once other servers can verify our keys.
	if s.s2s != nil {
		s.resumeOutbox(ctx)
	}
	if s.cfg.C2S.Listen != "" {
		if s.C2SAddr, err = s.listen("c2s.listen", s.cfg.C2S.Listen, func(l net.Listener) error { return s.c2s.Serve(l, false) }); err != nil {
			return err
		}
	}
	if s.cfg.C2S.ListenTLS != "" {
		if s.DirectTLSAddr, err = s.listen("c2s.listen_tls", s.cfg.C2S.ListenTLS, func(l net.Listener) error { return s.c2s.Serve(l, true) }); err != nil {
			return err
		}
	}
	if s.components != nil && s.cfg.Components.Listen != "" {
		if s.ComponentAddr, err = s.listen("components.listen", s.cfg.Components.Listen, s.components.Serve); err != nil {
			return err
		}
	}
	if s.http != nil && s.cfg.HTTP.Listen != "" {
		if s.HTTPAddr, err = s.listen("http.listen", s.cfg.HTTP.Listen, s.http.Serve); err != nil {
			return err
		}
	}
	if s.cfg.Metrics.Listen != "" {
		s.metrics = &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		if s.MetricsAddr, err = s.listen("metrics.listen", s.cfg.Metrics.Listen, s.metrics.Serve); err != nil {
			return err
		}
	}
	if s.http != nil && s.cfg.HTTP.ListenTLS != "" {
		tlsConfig := s.certs.TLSConfig()
		// WebSocket upgrades need HTTP/1.1.
		tlsConfig.NextProtos = []string{"http/1.1"}
		serve := func(l net.Listener) error { return s.http.Serve(tls.NewListener(l, tlsConfig)) }
		if s.HTTPSAddr, err = s.listen("http.listen_tls", s.cfg.HTTP.ListenTLS, serve); err != nil {
			return err
		}
	}
	// Last: the authority may check a challenge on the http listeners.
	return s.startACME()
}

// listen opens addr, the value of setting, and serves it in the
// background.
func (s *Server) listen(setting, addr string, serve func(net.Listener) error) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError(setting, addr, err)
	}
	s.log.Info("listening", "addr", l.Addr().String())
	go func() {
		if err := serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("listener stopped", "addr", addr, "err", err)
		}
	}()
	return l.Addr(), nil
}

// listenError says which setting's address could not be listened on,
// and what to do about the usual causes.
func listenError(setting, addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s: cannot listen on %s: another program, or another xmppd, listens there: stop it or change %s (%w)", setting, addr, setting, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: cannot listen on %s: a port below 1024 needs root or CAP_NET_BIND_SERVICE (%w)", setting, addr, err)
	}
	return fmt.Errorf("%s: cannot listen on %s: %w", setting, addr, err)
}

// DatabaseLost returns a channel closed when the private PostgreSQL that
// xmppd runs itself has exited without being stopped, after which nothing
// can be stored; it is never closed when the database is another's.
func (s *Server) DatabaseLost() <-chan struct{} {
	if s.db.private == nil {
		return nil
	}
	return s.db.private.Done()
}

// Displaced returns a channel that yields an error when this server lost
// its node lock with its database connection, and another server that
// is not a node of its cluster took it before it could take it again:
// the two would corrupt each other's data, so the server must stop.
func (s *Server) Displaced() <-chan error { return s.displaced }

// ReloadCertificates re-reads the certificate files (on SIGHUP).
func (s *Server) ReloadCertificates() error { return s.certs.Reload() }

// S2S returns the federation server, or nil when s2s.listen is empty.
func (s *Server) S2S() *s2s.Server { return s.s2s }

// Cluster returns this node's membership in a cluster, or nil when
// cluster.nats is empty.
func (s *Server) Cluster() *cluster.Cluster { return s.modules.cluster }

// Router returns the server's router.
func (s *Server) Router() *router.Router { return s.router }

// Shutdown ends every stream with <system-shutdown/>, stops the listeners
// and closes the database.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.metrics != nil {
		s.metrics.Close()
	}
	for _, stop := range s.modules.stopping {
		stop()
	}
	// Client streams end first, while the HTTP listeners still take BOSH
	// requests: a BOSH client collects the end of its stream with one.
	// New streams are refused from now on.
	if err := s.c2s.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("ending client streams: %w", err))
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.s2s != nil {
		if err := s.s2s.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ending server streams: %w", err))
		}
	}
	if s.components != nil {
		if err := s.components.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ending component streams: %w", err))
		}
	}
	if s.proxy65 != nil {
		if err := s.proxy65.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ending bytestreams: %w", err))
		}
	}
	if s.modules.cluster != nil {
		s.modules.cluster.Close(ctx)
	}
	if s.stopDeletes != nil {
		s.stopDeletes()
		<-s.deletesDone
	} else {
		s.nodeConn.Close(ctx) // never started: nobody listened on it
	}
	if s.stopACME != nil {
		s.stopACME(ctx)
	}
	s.modules.close()
	s.db.Close()
	return errors.Join(errs...)
}

// proxy65Address is where clients of host connect to the bytestreams
// relay: proxy65.public_host, else host itself, and proxy65.public_port,
// else the listener's port.
func (s *Server) proxy65Address(host string) (string, int) {
	port := s.cfg.Proxy65.PublicPort
	if port == 0 && s.Proxy65Addr != nil {
		port = s.Proxy65Addr.(*net.TCPAddr).Port
	}
	return cmp.Or(s.cfg.Proxy65.PublicHost, host), port
}

// externalServices converts the configured STUN and TURN servers.
func externalServices(cfg []config.ExternalService) []extdisco.Service {
	var ss []extdisco.Service
	for _, c := range cfg {
		c = c.WithDefaults()
		ss = append(ss, extdisco.Service{Type: c.Type, Host: c.Host, Port: c.Port, Transport: c.Transport,
			Name: c.Name, Secret: c.Secret, TTL: time.Duration(c.TTLSeconds) * time.Second})
	}
	return ss
}
