package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/acme"
	"xmppd/certs"
	"xmppd/config"
	"xmppd/storage/postgres"
)

// newACME returns the manager that obtains the certificates of domains
// and installs them in store.
func newACME(cfg config.ACME, domains []string, pool *pgxpool.Pool, store *certs.Store, log *slog.Logger) (*acme.Manager, error) {
	roots, err := trustedRoots("acme.ca_file", cfg.CAFile)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	m := acme.New(acme.Config{
		Directory:  cfg.Directory,
		Email:      cfg.Email,
		Domains:    domains,
		Challenge:  cfg.Challenge,
		Store:      postgres.NewACME(pool),
		Install:    store.Install,
		HTTPClient: &http.Client{Transport: transport, Timeout: time.Minute},
		Logger:     log,
	})
	if cfg.Challenge == acme.TLSALPN01 {
		store.SetValidation(m.ValidationConfig)
	}
	return m, nil
}

// startACME opens acme.http_listen for the authority's challenges and
// keeps the certificates current until Shutdown. The stored certificates
// were installed before the listeners opened (Start).
func (s *Server) startACME() error {
	if s.acme == nil {
		return nil
	}
	// HTTP-01 answers only: TLS-ALPN-01 is answered by the TLS listeners.
	if addr := s.cfg.ACME.HTTPListen; addr != "" && s.cfg.ACME.Challenge != acme.TLSALPN01 {
		s.acmeHTTP = &http.Server{Handler: s.acme.Handler(nil), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelInfo)}
		var err error
		if s.ACMEAddr, err = s.listen("acme.http_listen", addr, s.acmeHTTP.Serve); err != nil {
			return fmt.Errorf("%w; or set acme.http_listen to \"\" and forward %s from port 80 to http.listen", err, acme.ChallengePath)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopACME = func(stop context.Context) {
		cancel()
		if s.acmeHTTP != nil {
			s.acmeHTTP.Close()
		}
		select {
		case <-done:
		case <-stop.Done():
		}
	}
	go func() {
		defer close(done)
		s.acme.Run(ctx)
	}()
	return nil
}
