package s2s

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"xmppd/router"
)

// TestQueuedAsTheStreamEnds: a stanza queued for a stream that was
// carrying stanzas, just as the peer ended it, goes over a new stream
// rather than being bounced.
func TestQueuedAsTheStreamEnds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := pair{local: "b.test", remote: "peer.test"}
	s := New(Config{
		IdleTimeout:    time.Minute,
		ConnectTimeout: 5 * time.Second,
		Routes:         map[string]string{p.remote: l.Addr().String()},
	}, router.New(router.Config{Hosts: []string{p.local}}))
	defer s.Shutdown(context.Background())

	o := &outStream{s: s, p: p, queue: make(chan queued, 1), sm: newInbox(), quit: make(chan struct{}), done: make(chan struct{}), ready: true}
	s.mu.Lock()
	s.out[p] = o
	s.mu.Unlock()
	st := message(t, "<message xmlns='jabber:client' from='bob@b.test' to='pat@peer.test' type='chat'><body>hi</body></message>")
	o.queue <- queued{st: st} // queued as the stream ended
	o.close(errors.New("the peer ended the stream"), nil)

	l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second)) // a bound, not a timing
	nc, err := l.Accept()
	if err != nil {
		t.Fatalf("the queued stanza does not go over a new stream: %v", err)
	}
	nc.Close()
}
