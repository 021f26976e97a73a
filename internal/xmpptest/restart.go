package xmpptest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"xmppd/server"
)

// Restart shuts s down and starts a new server with the same configuration
// on the same database schema, listening on new ports: what a test needs to
// prove that state survives a restart. The new server is stopped when the
// test ends.
func Restart(t testing.TB, s *Server) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("stopping xmppd: %v", err)
	}
	log := slog.New(slog.NewTextHandler(testWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(context.Background(), s.Config, log)
	if err != nil {
		t.Fatalf("restarting xmppd: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("starting xmppd listeners: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &Server{Server: srv, Config: s.Config, Accounts: s.Accounts, DB: s.DB}
}
