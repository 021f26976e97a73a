package storage

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].name != "0001_accounts" {
		t.Fatalf("migrations %v", ms)
	}
	if LatestVersion() != len(ms) {
		t.Errorf("LatestVersion() = %d; want %d", LatestVersion(), len(ms))
	}
}

func TestParseMigrations(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("SELECT 1;")}
	for _, tc := range []struct {
		name  string
		files []string
		err   string // "" for none
	}{
		{"ok", []string{"0001_a.sql", "0002_b.sql", "README"}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "expected version 2"},
		{"duplicate", []string{"0001_a.sql", "0001_b.sql"}, "expected version 2"},
		{"start", []string{"0002_b.sql"}, "expected version 1"},
		{"name", []string{"1_a.sql"}, "NNNN_name"},
		{"no name", []string{"0001.sql"}, "NNNN_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["m/"+f] = file
			}
			ms, err := parseMigrations(fsys, "m")
			if tc.err == "" {
				if err != nil || len(ms) != 2 || ms[1].version != 2 || ms[1].name != "0002_b" {
					t.Errorf("parseMigrations = %v, %v", ms, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseMigrations error %v; want one containing %q", err, tc.err)
			}
		})
	}
}
