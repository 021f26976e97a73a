package proxy65

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net"
	"testing"
	"time"
)

// TestFinishedBytestreamIsClosed: once both parties of an activated
// bytestream have ended their side, the relay is done with both
// connections; it does not hold them until Shutdown.
func TestFinishedBytestreamIsClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRelay(RelayConfig{})
	go r.Serve(l)
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	sum := sha1.Sum([]byte("sid" + "a@localhost/x" + "b@localhost/y"))
	addr := hex.EncodeToString(sum[:])
	target, initiator := dialRelay(t, l.Addr(), addr), dialRelay(t, l.Addr(), addr)
	if err := r.Activate(addr); err != nil {
		t.Fatal(err)
	}
	initiator.Write([]byte("file"))
	initiator.CloseWrite()
	if got, err := io.ReadAll(target); err != nil || string(got) != "file" {
		t.Fatalf("target read %q, %v", got, err)
	}
	target.Write([]byte("thanks"))
	target.CloseWrite()
	if got, err := io.ReadAll(initiator); err != nil || string(got) != "thanks" {
		t.Fatalf("initiator read %q, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.conns.Wait(ctx); err != nil {
		t.Fatalf("the relay still holds %d connections of a finished bytestream: %v", r.conns.Len(), err)
	}
}

// dialRelay connects to the relay at relay for the bytestream addr and
// reads the relay's success reply.
func dialRelay(t *testing.T, relay net.Addr, addr string) *net.TCPConn {
	t.Helper()
	nc, err := net.Dial("tcp", relay.String())
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*net.TCPConn)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := append([]byte{5, 1, noAuth, 5, cmdConnect, 0, atypDomain, hashLen}, addr...)
	c.Write(append(req, 0, 0))
	got := make([]byte, 2+5+hashLen+2)
	if _, err := io.ReadFull(c, got); err != nil || got[3] != replyOK {
		t.Fatalf("relay answered %v, %v; want success", got, err)
	}
	return c
}
