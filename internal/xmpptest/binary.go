package xmpptest

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"
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
