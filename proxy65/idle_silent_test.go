package proxy65_test

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"xmppd/proxy65"
)

// TestIdleTimeoutSilent: an activated bytestream over which neither party
// ever sends a byte is closed after IdleTimeout too.
func TestIdleTimeoutSilent(t *testing.T) {
	const idle = 150 * time.Millisecond
	r, addr := serveRelay(t, proxy65.RelayConfig{IdleTimeout: idle})
	a := address("silent", "a@localhost/x", "b@localhost/y")
	target, _ := connect(t, addr, a)
	initiator, _ := connect(t, addr, a)
	if err := r.Activate(a); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"target": target, "initiator": initiator} {
		c.SetDeadline(time.Now().Add(20 * idle))
		if rest, err := io.ReadAll(c); err != nil && !errors.Is(err, syscall.ECONNRESET) || len(rest) > 0 {
			t.Errorf("%s of a silent bytestream: read %q, %v; want the end after %v", name, rest, err, idle)
		}
	}
}
