package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// An export that fails part way leaves no file that could pass for a
// backup; one that succeeds leaves what it wrote; an existing file is
// never overwritten.
func TestCreateFile(t *testing.T) {
	dir := t.TempDir()
	failed := filepath.Join(dir, "failed.xml")
	broken := errors.New("database went away")
	err := createFile(failed, func(w io.Writer) error {
		io.WriteString(w, "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'>")
		return broken
	})
	if !errors.Is(err, broken) {
		t.Fatalf("createFile = %v, want %v", err, broken)
	}
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Fatalf("the failed export's file is still there: %v", err)
	}

	done := filepath.Join(dir, "done.xml")
	if err := createFile(done, func(w io.Writer) error { _, err := io.WriteString(w, "<server-data/>"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := createFile(done, func(io.Writer) error { return nil }); !os.IsExist(err) {
		t.Fatalf("createFile over an existing file = %v, want it refused", err)
	}
	if data, err := os.ReadFile(done); err != nil || string(data) != "<server-data/>" {
		t.Fatalf("the export's file holds %q, %v", data, err)
	}
}
