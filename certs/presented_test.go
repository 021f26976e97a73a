package certs

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// connect makes one TLS connection over TCP between a server using cfg,
// whose handshake records in p unless p is nil, and a client using
// client, and returns the client's connection state. The client reads a
// byte the server writes after the handshake, and so takes the ticket a
// TLS 1.3 server sends.
func connect(t *testing.T, cfg *tls.Config, p *Presented, client *tls.Config) tls.ConnectionState {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	deadline := time.Now().Add(20 * time.Second)
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		ctx := context.Background()
		if p != nil {
			ctx = WithPresented(ctx, p)
		}
		tc := tls.Server(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			errc <- err
			return
		}
		_, err = tc.Write([]byte{1})
		errc <- err
	}()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	tc := tls.Client(c, client)
	if _, err := io.ReadFull(tc, make([]byte, 1)); err != nil {
		c.Close()
		t.Fatalf("client: %v (server: %v)", err, <-errc)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
	return tc.ConnectionState()
}

// resumingStore returns a store whose Reload renews its certificate (a
// self-signed one kept in memory), and a client of it that resumes
// sessions with version.
func resumingStore(t *testing.T, version uint16) (*Store, *tls.Config) {
	t.Helper()
	s, err := New(Config{Hosts: []HostCert{{Host: "v.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	return s, &tls.Config{ServerName: "v.example", InsecureSkipVerify: true, MinVersion: version, MaxVersion: version,
		ClientSessionCache: tls.NewLRUClientSessionCache(1)}
}

var versions = []uint16{tls.VersionTLS12, tls.VersionTLS13}

// A resumed session, which presents no certificate, is bound to the one
// its full handshake presented, renewed since or not, also when it is
// resumed by the ticket a resumption was given.
func TestPresentedResumed(t *testing.T) {
	for _, version := range versions {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			s, client := resumingStore(t, version)
			cfg := s.TLSConfig()
			p := new(Presented)
			cs := connect(t, cfg, p, client)
			want := cs.PeerCertificates[0]
			if cs.DidResume || !p.Leaf().Equal(want) {
				t.Fatalf("full handshake: resumed %v, or did not record the certificate it presented", cs.DidResume)
			}
			for i := range 3 {
				if i > 0 {
					if err := s.Reload(); err != nil {
						t.Fatal(err)
					}
				}
				p := new(Presented)
				cs := connect(t, cfg, p, client)
				if !cs.DidResume {
					t.Fatalf("resumption %d: the session was not resumed", i)
				}
				if got := p.Leaf(); got == nil || !got.Equal(want) {
					t.Fatalf("resumption %d: not bound to the full handshake's certificate", i)
				}
			}
			if c, _ := s.Certificate("v.example"); Leaf(c).Equal(want) {
				t.Fatal("Reload did not renew the certificate")
			}
		})
	}
}

// A ticket without the certificate, as crypto/tls alone or an older
// build issues, is not resumed: the handshake is a full one, bound to
// the certificate it presents.
func TestPresentedTicketWithoutCertificate(t *testing.T) {
	for _, version := range versions {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			s, client := resumingStore(t, version)
			cfg := s.TLSConfig()
			connect(t, cfg, nil, client)
			// The ticket is one the configuration can resume.
			if cs := connect(t, cfg, nil, client); !cs.DidResume {
				t.Fatal("a handshake without a Presented did not resume")
			}
			if err := s.Reload(); err != nil {
				t.Fatal(err)
			}
			p := new(Presented)
			cs := connect(t, cfg, p, client)
			if cs.DidResume {
				t.Fatal("a ticket without the certificate was resumed")
			}
			if !p.Leaf().Equal(cs.PeerCertificates[0]) {
				t.Fatal("the full handshake did not record the certificate it presented")
			}
		})
	}
}

// A TLS 1.2 server chooses its certificate before it reads the ticket.
// When crypto/tls then refuses the ticket's session (here: its cipher
// suite is no longer offered), the full handshake that follows is bound
// to the certificate it presents, not to the ticket's.
func TestPresentedTicketRefused(t *testing.T) {
	s, client := resumingStore(t, tls.VersionTLS12)
	cfg := s.TLSConfig()
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	old := connect(t, cfg, new(Presented), client).PeerCertificates[0]
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	p := new(Presented)
	cs := connect(t, cfg, p, client)
	if cs.DidResume {
		t.Fatal("the session was resumed with a cipher suite no longer offered")
	}
	if cs.PeerCertificates[0].Equal(old) {
		t.Fatal("Reload did not renew the certificate")
	}
	if !p.Leaf().Equal(cs.PeerCertificates[0]) {
		t.Fatal("the full handshake is bound to the refused ticket's certificate")
	}
}
