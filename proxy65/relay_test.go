package proxy65_test

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"xmppd/proxy65"
)

// serveRelay runs a relay with cfg on a loopback port.
func serveRelay(t testing.TB, cfg proxy65.RelayConfig) (*proxy65.Relay, net.Addr) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := proxy65.NewRelay(cfg)
	go r.Serve(l)
	return r, l.Addr()
}

// A pair never activated is closed once its wait is over.
func TestWaitExpires(t *testing.T) {
	_, addr := serveRelay(t, proxy65.RelayConfig{WaitTimeout: time.Millisecond})
	a := address("sid", "a@localhost/x", "b@localhost/y")
	c, _ := connect(t, addr, a)
	if n, err := io.ReadAll(c); err != nil || len(n) > 0 {
		t.Fatalf("read %q, %v; want the end", n, err)
	}
}

// Beyond MaxWaiting, connections are refused with a SOCKS5 failure.
func TestMaxWaiting(t *testing.T) {
	_, addr := serveRelay(t, proxy65.RelayConfig{MaxWaiting: 1})
	if _, code := connect(t, addr, address("1", "a@localhost/x", "b@localhost/y")); code != 0 {
		t.Fatalf("the first connection got %d", code)
	}
	if _, code := connect(t, addr, address("2", "a@localhost/x", "b@localhost/y")); code != 1 {
		t.Fatalf("the second connection got %d, want 1 (general failure)", code)
	}
}

// Shutdown ends waiting and relaying connections alike, and returns.
func TestShutdown(t *testing.T) {
	r, addr := serveRelay(t, proxy65.RelayConfig{})
	relayed := address("1", "a@localhost/x", "b@localhost/y")
	target, _ := connect(t, addr, relayed)
	connect(t, addr, relayed)
	if err := r.Activate(relayed); err != nil {
		t.Fatal(err)
	}
	waiting, _ := connect(t, addr, address("2", "a@localhost/x", "b@localhost/y"))
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []net.Conn{target, waiting} {
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("after shutdown: %v", err)
		}
	}
}

// BenchmarkRelay measures the relay's throughput: one activated
// bytestream on loopback, the initiator sending b.N chunks of 64 KiB.
func BenchmarkRelay(b *testing.B) {
	r, addr := serveRelay(b, proxy65.RelayConfig{})
	a := address("bench", "a@localhost/x", "b@localhost/y")
	target, _ := connect(b, addr, a)
	initiator, _ := connect(b, addr, a)
	if err := r.Activate(a); err != nil {
		b.Fatal(err)
	}
	target.SetDeadline(time.Time{})
	initiator.SetDeadline(time.Time{})
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	go func() {
		for range b.N {
			initiator.Write(chunk)
		}
		initiator.(*net.TCPConn).CloseWrite()
	}()
	n, err := io.Copy(io.Discard, target)
	if err != nil || n != int64(b.N*len(chunk)) {
		b.Fatalf("received %d bytes, %v; want %d", n, err, b.N*len(chunk))
	}
}

// A party that leaves after the pair formed, before or while activation
// happens, ends the bytestream without leaving anything behind: the other
// party is closed, and Shutdown returns.
func TestPartyLeaves(t *testing.T) {
	r, addr := serveRelay(t, proxy65.RelayConfig{})
	a := address("sid", "a@localhost/x", "b@localhost/y")
	target, _ := connect(t, addr, a)
	initiator, _ := connect(t, addr, a)
	target.Close()
	if err := r.Activate(a); err != nil && err != proxy65.ErrOneSide {
		t.Fatalf("activation: %v", err)
	}
	initiator.Write([]byte("to nobody"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := closedByRelay(initiator); err != nil {
		t.Fatalf("the initiator's connection: %v", err)
	}
}

// One address may have MaxPerAddress connections that are not relaying;
// more are closed at once.
func TestMaxPerAddress(t *testing.T) {
	_, addr := serveRelay(t, proxy65.RelayConfig{MaxPerAddress: 2})
	expectThirdClosed(t, addr)
}

// expectThirdClosed connects twice to the relay at addr, which allows two
// connections from one client, and checks that a third is closed.
func expectThirdClosed(t *testing.T, addr net.Addr) {
	t.Helper()
	connect(t, addr, address("1", "a@localhost/x", "b@localhost/y"))
	connect(t, addr, address("2", "a@localhost/x", "b@localhost/y"))
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte{5, 1, 0})
	if err := closedByRelay(c); err != nil {
		t.Fatalf("the third connection: %v", err)
	}
}

// closedByRelay reads c to its end, which may be a reset when the relay
// closed it with data unread, and fails if c was not closed.
func closedByRelay(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	return err
}

// An activated bytestream that carries nothing either way for IdleTimeout
// is closed; one that carries bytes one way only is not.
func TestIdleTimeout(t *testing.T) {
	const idle = 150 * time.Millisecond
	r, addr := serveRelay(t, proxy65.RelayConfig{IdleTimeout: idle})
	a := address("idle", "a@localhost/x", "b@localhost/y")
	target, _ := connect(t, addr, a)
	initiator, _ := connect(t, addr, a)
	if err := r.Activate(a); err != nil {
		t.Fatal(err)
	}
	// The target speaks first, then only listens while the initiator
	// sends for three idle periods, in pieces: its connection stays.
	target.Write([]byte("ready"))
	if _, err := io.ReadFull(initiator, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	const pieces = 6
	go func() {
		for range pieces {
			initiator.Write([]byte("piece"))
			time.Sleep(idle / 2) // paces the sender; nothing waits on it
		}
	}()
	got := make([]byte, 5*pieces)
	if _, err := io.ReadFull(target, got); err != nil {
		t.Fatalf("one-way transfer cut after %q: %v", got, err)
	}
	// Then silence both ways: the relay closes both.
	for name, c := range map[string]net.Conn{"target": target, "initiator": initiator} {
		if rest, err := io.ReadAll(c); err != nil && !errors.Is(err, syscall.ECONNRESET) || len(rest) > 0 {
			t.Errorf("%s after the silence: read %q, %v; want the end", name, rest, err)
		}
	}
}
