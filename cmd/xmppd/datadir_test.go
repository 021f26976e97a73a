package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// xmppdIn runs the binary with args and stdin in the directory dir, and
// returns its output.
func xmppdIn(t *testing.T, dir, bin, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A relative data_dir is the directory of that name beside the
// configuration file, wherever the command runs: `xmppd -c
// /etc/xmppd/xmppd.toml user add` from another directory uses the
// server's private PostgreSQL, not a new empty one there.
func TestRelativeDataDirIsBesideTheConfigFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := xmpptest.BuildXMPPD(t)
	confDir, elsewhere, another := t.TempDir(), t.TempDir(), t.TempDir()
	cfgPath := filepath.Join(confDir, "xmppd.toml")
	if err := os.WriteFile(cfgPath, []byte("data_dir = 'data'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := xmppdIn(t, elsewhere, bin, "s3cret pass\n", "-c", cfgPath, "user", "add", "alice@localhost"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, err := xmppdIn(t, another, bin, "", "-c", cfgPath, "user", "list"); err != nil || strings.TrimSpace(out) != "alice@localhost" {
		t.Fatalf("user list from another directory = %q, %v; want the account user add made", out, err)
	}
	if _, err := os.Stat(filepath.Join(confDir, "data", "postgres")); err != nil {
		t.Errorf("no private PostgreSQL beside the configuration file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "data")); err == nil {
		t.Errorf("user add made a data directory in its working directory %s", elsewhere)
	}
}
