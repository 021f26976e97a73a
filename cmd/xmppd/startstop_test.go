package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// SIGTERM while the server starts (here while it sets up its private
// PostgreSQL: initdb, then postgres) stops the start cleanly, as a stop
// asked for: xmppd exits 0, with nothing of the half-made cluster left,
// instead of dying of the signal and leaving initdb or postgres behind.
func TestTermWhileStarting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := xmpptest.BuildXMPPD(t)
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, xmpptest.FreeAddr(t), "")
	cmd := exec.Command(bin, "-c", cfgPath, "serve")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var logs strings.Builder
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		logs.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "starting a private PostgreSQL") {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for lines.Scan() {
			logs.WriteString(lines.Text() + "\n")
		}
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Minute): // a bound, not a timing
		t.Fatal("xmppd did not exit after SIGTERM while starting")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("xmppd stopped while starting exited with %v; log:\n%s", err, logs.String())
	}
	pg := filepath.Join(dir, "data", "postgres")
	for _, left := range []string{"pgdata.initdb", filepath.Join("pgdata", "postmaster.pid")} {
		if _, err := os.Stat(filepath.Join(pg, left)); !os.IsNotExist(err) {
			t.Errorf("%s left behind (%v); log:\n%s", left, err, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("the log does not say xmppd stopped:\n%s", logs.String())
	}
}
