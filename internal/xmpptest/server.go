// Package xmpptest starts whole xmppd servers for tests — on 127.0.0.1
// port 0, with a fresh PostgreSQL schema — and drives them over real
// sockets with a small scriptable client.
package xmpptest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/auth"
	"xmppd/config"
	"xmppd/server"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

// Domain is the first host of every test server.
const Domain = "localhost"

// OtherDomain is a second host served by every test server.
const OtherDomain = "example.test"

// Server is a running xmppd for one test.
type Server struct {
	*server.Server
	Config   config.Config
	Accounts *postgres.Accounts
	// DB is a pool of the server's database, for checking what it stored.
	DB *pgxpool.Pool
}

// Start starts a server with a fresh schema and the given changes to the
// default test configuration. It is stopped when the test ends.
func Start(t testing.TB, change ...func(*config.Config)) *Server {
	t.Helper()
	return StartLogged(t, nil, change...)
}

// StartLogged is Start with the server logging to log (nil: warnings to
// the test's log).
func StartLogged(t testing.TB, log *slog.Logger, change ...func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Hosts = []string{Domain, OtherDomain}
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = pgtest.URL(t)
	cfg.C2S.Listen = "127.0.0.1:0"
	cfg.C2S.ListenTLS = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.ListenTLS = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	// Tests send as fast as they can; the rate limits' own tests turn
	// them on.
	cfg.Limits.ClientBytesPerSecond = 0
	cfg.Limits.ServerBytesPerSecond = 0
	for _, c := range change {
		c(&cfg)
	}
	return launch(t, cfg, log)
}

// Node starts another node of s's cluster: a server with s's
// configuration, the given changes, and new ports, on the same database
// schema. It is stopped when the test ends.
func Node(t testing.TB, s *Server, change ...func(*config.Config)) *Server {
	t.Helper()
	cfg := s.Config
	cfg.DataDir = t.TempDir()
	for _, c := range change {
		c(&cfg)
	}
	return launch(t, cfg, nil)
}

// launch starts a server for cfg and a pool on its database, both closed
// when the test ends. A nil log writes warnings to the test's log.
func launch(t testing.TB, cfg config.Config, log *slog.Logger) *Server {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	ctx := context.Background()
	switch {
	case log != nil:
	case os.Getenv("XMPPD_TEST_LOG") != "":
		log = slog.New(slog.NewTextHandler(testWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	default:
		log = slog.New(slog.NewTextHandler(testWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		t.Fatalf("starting xmppd: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("starting xmppd listeners: %v", err)
	}
	s := &Server{Server: srv, Config: cfg}
	pool, err := storage.Open(ctx, cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.Accounts, s.DB = postgres.NewAccounts(pool), pool
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		pool.Close()
	})
	return s
}

// AddUser creates the account user@domain with password.
func (s *Server) AddUser(t testing.TB, user, domain, password string) {
	t.Helper()
	creds, err := auth.DeriveCredentials(password, auth.DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Accounts.Create(context.Background(), domain, user, creds); err != nil {
		t.Fatalf("creating %s@%s: %v", user, domain, err)
	}
}

// testWriter sends log lines to t.Log, so they appear with the failing test.
func testWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// RenewCertificates has s generate new self-signed certificates for its
// hosts and serve them from now on, as a renewal brings new ones.
func (s *Server) RenewCertificates(t testing.TB) {
	t.Helper()
	dir := filepath.Join(s.Config.DataDir, "certs")
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated certificates in %s (%v)", dir, err)
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReloadCertificates(); err != nil {
		t.Fatal(err)
	}
}
