package c2s

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// deadConn is a server-side connection whose reads fail, once dead is
// set, as a read on a Linux TCP socket fails when the kernel gives up on
// the peer: TCP keepalive probes (Go enables them on accepted
// connections) or retransmissions unanswered, because a phone lost its
// network without closing anything. The error is ETIMEDOUT, which Go
// reports as a net.Error whose Timeout() is true.
type deadConn struct {
	net.Conn
	dead atomic.Bool
}

func (c *deadConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.dead.Load() {
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", syscall.ETIMEDOUT)}
	}
	return n, err
}

// TestSMDeadPeerWaitsForResumption: a resumable session whose connection
// the kernel declares dead (ETIMEDOUT) has lost its connection like any
// other: it must wait for resumption (and have its held messages pushed),
// not end as if the client had broken the protocol.
func TestSMDeadPeerWaitsForResumption(t *testing.T) {
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	srv := New(Config{Hosts: []string{"localhost"}, QueueSize: 64, ResumeTimeout: time.Minute}, r, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	dc := &deadConn{Conn: conn}
	defer dc.Close()
	tr := newTCPTransport(dc, xmlstream.Limits{}, 5*time.Second)
	client.Write([]byte(fuzzHeader))
	if _, err := tr.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	go func() { // drain
		buf := make([]byte, 4096)
		for {
			if _, err := client.Read(buf); err != nil {
				return
			}
		}
	}()
	s := newSession(srv, tr, jid.MustParse("juliet@localhost/balcony"), "en")
	srv.addSession(s)
	r.Bind(s)
	s.release()
	s.enable(true, "")
	id, _ := s.resumption()
	if id == "" {
		t.Fatal("not resumable")
	}
	go s.serve(context.Background(), tr, s.readerDone, nil)

	dc.dead.Store(true)
	conn.SetReadDeadline(time.Now()) // the blocked read returns, failing
	select {
	case <-s.readerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader did not return")
	}
	s.mu.Lock()
	closing, detached := s.closing, s.t == nil
	s.mu.Unlock()
	if closing || !detached {
		t.Fatalf("after ETIMEDOUT: closing=%v detached=%v; want a session waiting for resumption", closing, detached)
	}
	if got, _, _ := srv.lookupResumable(id); got != s {
		t.Fatal("the session is not resumable any more")
	}
	s.terminate("", "")
}
