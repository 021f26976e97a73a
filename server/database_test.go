package server

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"xmppd/config"
)

// A server must not run on the private PostgreSQL another xmppd started:
// that one stops it when it ends. Here the other is a command such as
// `xmppd user add`, which holds the database while it waits for the
// password to be typed.
func TestNewRefusesPrivateDatabaseOfAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = ""

	cli, err := OpenDatabase(ctx, cfg, log) // as `xmppd user add` does
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	srv, err := New(ctx, cfg, log)
	if err == nil {
		srv.Shutdown(ctx)
		t.Fatal("New attached to the private PostgreSQL of another xmppd; it loses its database when that one exits")
	}
	t.Logf("refused: %v", err)
}
