package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/server"
	"xmppd/storage/pgtest"
)

// A port another program holds stops the start with an error that names
// the setting to change, not only the address.
func TestStartOnAPortInUseNamesTheSetting(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = pgtest.URL(t)
	cfg.C2S.Listen = "127.0.0.1:0"
	cfg.C2S.ListenTLS = taken.Addr().String()
	cfg.HTTP.Listen, cfg.HTTP.ListenTLS = "", ""
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start()
	srv.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "c2s.listen_tls: cannot listen on "+cfg.C2S.ListenTLS+": another program, or another xmppd, listens there") {
		t.Fatalf("Start on a port in use: %v, want an error naming c2s.listen_tls", err)
	}
}
