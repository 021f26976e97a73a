package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/storage/pgtest"
)

// A host given to user list, invite create or invite list means what the
// configuration's hosts mean: written in capitals it is the same host,
// and one not served is an error, not an empty list.
func TestHostArguments(t *testing.T) {
	cfg := config.Default()
	cfg.Hosts = []string{"localhost", "example.test"}
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = pgtest.URL(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	user := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := userCommand(ctx, cfg, log, args, strings.NewReader(stdin), &out)
		return out.String(), err
	}
	invite := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := inviteCommand(ctx, cfg, log, args, &out)
		return out.String(), err
	}
	if out, err := user("pw\n", "add", "alice@localhost"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, err := user("", "list", "LocalHost"); err != nil || out != "alice@localhost\n" {
		t.Errorf("user list LocalHost = %q, %v; want alice@localhost", out, err)
	}
	if out, err := user("", "list", "elsewhere.example"); err == nil || !strings.Contains(err.Error(), "elsewhere.example is not served here") {
		t.Errorf("user list of a host not served = %q, %v; want an error", out, err)
	}
	if out, err := invite("create", "LOCALHOST"); err != nil || !strings.Contains(out, "uri:     xmpp:localhost?register;preauth=") {
		t.Errorf("invite create LOCALHOST: %v\n%s", err, out)
	}
	if out, err := invite("list", "LOCALHOST"); err != nil || !strings.Contains(out, " localhost expires ") {
		t.Errorf("invite list LOCALHOST = %q, %v; want the invitation", out, err)
	}
	if out, err := invite("list", "elsewhere.example"); err == nil || !strings.Contains(err.Error(), "elsewhere.example is not served here") {
		t.Errorf("invite list of a host not served = %q, %v; want an error", out, err)
	}
}
