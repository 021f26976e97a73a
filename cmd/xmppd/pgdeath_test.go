package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
)

// When the private PostgreSQL dies under a running server, nothing can be
// stored any more: the server ends its streams and exits with an error
// naming the cause, so that a supervisor starts both again, rather than
// accepting messages it cannot keep.
func TestPrivatePostgresDeath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := xmpptest.BuildXMPPD(t)
	dir := t.TempDir()
	c2sAddr := xmpptest.FreeAddr(t)
	cfgPath := writeConfig(t, dir, c2sAddr, "")
	if out, err := xmppd(t, bin, "pass\n", "-c", cfgPath, "user", "add", "alice@localhost"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-c", cfgPath, "serve")
	stdout, _ := cmd.StdoutPipe()
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for ready := bufio.NewScanner(stdout); ready.Scan() && !strings.Contains(ready.Text(), "Add a user"); {
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	alice := loginAt(t, c2sAddr, "alice", "pass")

	pidFile, err := os.ReadFile(filepath.Join(dir, "data", "postgres", "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	alice.ExpectStreamError("system-shutdown")
	select {
	case err := <-exited:
		if err == nil {
			t.Fatal("xmppd exited with status 0 after losing its database")
		}
	case <-time.After(time.Minute):
		t.Fatal("xmppd still runs a minute after its private PostgreSQL died")
	}
	if !strings.Contains(logs.String(), "the private PostgreSQL exited") {
		t.Errorf("the log does not say why xmppd stopped:\n%s", logs.String())
	}
}
