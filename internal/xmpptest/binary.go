package xmpptest

import (
	"bufio"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
// ago, for a server process that must be told where to listen. The port
// is below the kernel's ephemeral range, so that neither another test's
// listener on port 0 nor an outgoing connection takes it meanwhile.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 100 {
		port := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return l.Addr().String()
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// ephemeralLow returns the lowest port of the kernel's ephemeral range,
// 32768 where it cannot be read.
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	low, err := strconv.Atoi(strings.Fields(string(data) + " x")[0])
	if err != nil || low <= 11000 {
		return 32768
	}
	return low
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
