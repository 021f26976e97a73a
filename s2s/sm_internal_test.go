package s2s

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"xmppd/router"
	"xmppd/xmlstream"
)

// TestViaBound: on a peer's bidirectional stream on which it enabled
// stream management, at most maxUnacked stanzas wait for its
// acknowledgement; an acknowledgement makes room, and one of more than
// was sent is refused.
func TestViaBound(t *testing.T) {
	c := viaConn(t)
	st := message(t, "<message xmlns='jabber:client' to='x@peer.test'/>")
	for i := range maxUnacked {
		if _, err := c.writeVia(nil, []queued{{st: st}}); err != nil {
			t.Fatalf("stanza %d: %v", i+1, err)
		}
	}
	if _, err := c.writeVia(nil, []queued{{st: st}}); !errors.Is(err, errBehind) {
		t.Fatalf("one more: %v, want errBehind", err)
	}
	if done, err := c.ackVia(10); err != nil || len(done) != 10 {
		t.Fatalf("acknowledging 10: %d acknowledged, %v", len(done), err)
	}
	if _, err := c.writeVia(nil, []queued{{st: st}}); err != nil {
		t.Fatalf("after the acknowledgement: %v", err)
	}
	if _, err := c.ackVia(maxUnacked + 12); !errors.Is(err, errHTooHigh) {
		t.Fatalf("acknowledging more than was sent: %v, want errHTooHigh", err)
	}
}

// TestViaRetiredIdleOrphans: an outStream that writes over a peer's
// bidirectional stream retires when idle although the peer has not yet
// acknowledged its stanza. When the peer's stream then ends, nobody takes
// that stanza (takeVia is asked by outStream, and the retired one is
// gone): it never goes again.
func TestViaRetiredIdleOrphans(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := pair{local: "b.test", remote: "peer.test"}
	s := New(Config{
		IdleTimeout:    20 * time.Millisecond, // the idle retirement under test
		ConnectTimeout: 5 * time.Second,
		Routes:         map[string]string{p.remote: l.Addr().String()},
	}, router.New(router.Config{Hosts: []string{p.local}}))
	defer s.Shutdown(context.Background())

	c := viaConn(t)
	s.mu.Lock()
	s.bidi[p] = c
	s.mu.Unlock()
	st := message(t, "<message xmlns='jabber:client' from='bob@b.test' to='pat@peer.test' type='chat'><body>hi</body></message>")
	s.enqueue(context.Background(), p, queued{st: st})
	s.mu.Lock()
	o := s.out[p]
	s.mu.Unlock()
	select {
	case <-o.done: // retired idle, its stanza unacknowledged
		c.wmu.Lock()
		n := len(c.via.unacked)
		c.wmu.Unlock()
		if n != 1 {
			t.Fatalf("%d stanzas wait for the peer's acknowledgement, want 1", n)
		}
	case <-time.After(time.Second): // a bound: with a fix, o never retires
	}

	c.end(nil, p.local) // the peer's stream ends, unacknowledged
	// The stanza should go again over a stream of b.test's own.
	l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second)) // a bound, not a timing
	nc, err := l.Accept()
	if err != nil {
		t.Fatalf("the unacknowledged stanza is not sent again: %v", err)
	}
	nc.Close()
}

// TestViaWriteWhileBreaking: broken takes o1's unacknowledged stanzas
// (takeVia, which turns counting off) before it ends the connection. A
// writeVia by o2 sharing the connection in between is written, but
// reported untracked, so o2.send takes it out of the outbox at once,
// although the peer never acknowledges it and the stream is about to end
// with a stream error.
func TestViaWriteWhileBreaking(t *testing.T) {
	c := viaConn(t)
	st := message(t, "<message xmlns='jabber:client' to='x@peer.test'/>")
	o1, o2 := &outStream{}, &outStream{}
	if _, err := c.writeVia(o1, []queued{{st: st, kept: 1}}); err != nil {
		t.Fatal(err)
	}
	c.takeVia(o1) // o1.broken, before c.end
	tracked, err := c.writeVia(o2, []queued{{st: st, kept: 2}})
	if err == nil && !tracked {
		t.Fatal("o2's message was written as the stream breaks and counts as sent: it leaves the outbox unacknowledged")
	}
}

// viaConn returns a peer's stream on which the peer enabled stream
// management; the peer reads and never acknowledges.
func viaConn(t *testing.T) *conn {
	ours, theirs := net.Pipe()
	t.Cleanup(func() { ours.Close() })
	go io.Copy(io.Discard, theirs)
	c := newConn(ours, xmlstream.Limits{}, time.Minute)
	c.via.on = true
	return c
}

// message parses a stanza.
func message(t *testing.T, s string) *xmlstream.Element {
	st, err := xmlstream.ParseStored([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
