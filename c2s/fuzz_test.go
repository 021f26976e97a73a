package c2s

import (
	"context"
	"net"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/router"
	"xmppd/xmlstream"
)

// memStore is an account store for the fuzz target: no accounts.
type memStore struct{}

func (memStore) Credentials(ctx context.Context, domain, username string) ([]auth.Credential, error) {
	return nil, auth.ErrNoSuchUser
}

// smallServer returns a server for localhost with small limits and its
// router, for tests that drive streams over net.Pipe.
func smallServer(sasl *auth.Server) (*router.Router, *Server) {
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	return r, New(Config{Hosts: []string{"localhost"}, Limits: xmlstream.Limits{MaxStanzaBytes: 16 << 10, MaxDepth: 16}, QueueSize: 64, NegotiationTimeout: 5 * time.Second}, r, sasl)
}

const fuzzHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

// FuzzStream feeds arbitrary client input to stream negotiation (even
// first byte) or to a bound session (odd first byte). The server must
// never panic or hang, whatever it is sent.
func FuzzStream(f *testing.F) {
	for _, seed := range []string{
		"\x00" + fuzzHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>biwsbj1qdWxpZXQscj1hYmNk</auth>",
		"\x00" + fuzzHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		"\x00<stream:stream>",
		"\x01<message to='juliet@localhost/balcony' type='chat'><body>hi</body></message>",
		"\x01<presence><priority>5</priority></presence><presence type='unavailable'/>",
		"\x01<iq type='get' id='1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>",
		"\x01<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
	} {
		f.Add([]byte(seed))
	}
	sasl, err := auth.NewServer(auth.Config{Store: memStore{}, Secret: make([]byte, 32), FailureDelay: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		r, srv := smallServer(sasl)
		client, server := net.Pipe()
		tr := newTCPTransport(server, srv.cfg.Limits, time.Second)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if data[0]%2 == 0 {
				srv.ServeTransport(context.Background(), tr)
				return
			}
			if _, err := tr.ReadHeader(); err != nil {
				tr.Close()
				return
			}
			sess := newSession(srv, tr, jid.MustParse("juliet@localhost/balcony"), "en")
			srv.addSession(sess)
			r.Bind(sess)
			sess.release()
			sess.serve(context.Background(), tr, sess.readerDone, nil)
			tr.Close()
		}()
		go func() {
			// Drain what the server writes, so that it never blocks on us.
			buf := make([]byte, 4096)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		input := data[1:]
		if data[0]%2 == 1 {
			input = append([]byte(fuzzHeader), input...)
		}
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write(input)
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the server hung on input %q", data)
		}
	})
}
