package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xmppd/config"
)

// A relative data_dir is taken beside the configuration file now; a
// private PostgreSQL left where it pointed before (the working
// directory) stops the start instead of a new, empty one being made.
func TestFormerDataDirStopsTheStart(t *testing.T) {
	confDir, workDir := t.TempDir(), t.TempDir()
	cfgPath := filepath.Join(confDir, "xmppd.toml")
	if err := os.WriteFile(cfgPath, []byte("data_dir = 'data'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(workDir)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cfg.DataDir, "postgres")
	if err := checkFormerDataDir(cfg, dir); err != nil {
		t.Fatalf("nothing in the former place: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(workDir, "data", "postgres"), 0o700); err != nil {
		t.Fatal(err)
	}
	err = checkFormerDataDir(cfg, dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(workDir, "data", "postgres")) {
		t.Fatalf("a database in the former place: %v", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkFormerDataDir(cfg, dir); err != nil {
		t.Fatalf("a database in the new place too: %v", err)
	}
}
