package xmpptest

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BuildXMPPD compiles the xmppd command into a temporary directory, for
// tests that run it as a separate process, and returns its path.
func BuildXMPPD(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xmppd")
	out, err := exec.Command("go", "build", "-o", bin, "xmppd/cmd/xmppd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago, for a server process that must be told where to listen.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Serve starts the xmppd binary bin with the configuration file cfgPath
// and returns once it prints that it serves. Its warnings and errors go
// to the test's log; it is killed when the test ends, if it still runs.
func Serve(t testing.TB, bin, cfgPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-c", cfgPath, "serve")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = warnWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), "Add a user") {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("xmppd exited before serving")
		}
	case <-time.After(time.Minute):
		t.Fatal("xmppd did not start within a minute")
	}
	return cmd
}

// warnWriter passes a process's warnings and errors to the test's log.
type warnWriter struct{ t testing.TB }

func (w warnWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "level=WARN") || strings.Contains(string(p), "level=ERROR") {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}
