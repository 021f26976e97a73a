package s2s_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"xmppd/certs"
	"xmppd/config"
	"xmppd/internal/dnstest"
	"xmppd/internal/xmpptest"
)

// foundByDNS starts servers for a.test and b.test with direct TLS
// listeners, which find each other only through the SRV records that
// records returns for their listeners' addresses, and alice@a.test and
// bob@b.test online.
func foundByDNS(t *testing.T, records func(host string, s *xmpptest.Server) []string) (alice, bob *xmpptest.Client) {
	t.Helper()
	dns := dnstest.Start(t, "")
	start := func(host string) *xmpptest.Server {
		s := xmpptest.Start(t, func(c *config.Config) {
			c.Hosts = []string{host}
			c.S2S.Listen, c.S2S.ListenTLS = "127.0.0.1:0", "127.0.0.1:0"
		})
		s.S2S().SetResolver(dns.Resolver())
		dns.Add(t, "server."+host+". A 127.0.0.1")
		for _, r := range records(host, s) {
			dns.Add(t, r)
		}
		return s
	}
	return online(t, start("a.test"), start("b.test"))
}

// impostor accepts connections on l until the test ends, each counted in
// the result before answer deals with it and it is closed.
func impostor(t *testing.T, l net.Listener, answer func(net.Conn)) *atomic.Int32 {
	t.Cleanup(func() { l.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				answer(c)
			}()
		}
	}()
	return &accepted
}

// srv returns an SRV record of host's service pointing to addr.
func srv(service, host string, priority int, addr net.Addr) string {
	return fmt.Sprintf("_%s._tcp.%s. SRV %d 5 %d server.%s.", service, host, priority, addr.(*net.TCPAddr).Port, host)
}

// exchange checks that messages cross both ways.
func exchange(t *testing.T, alice, bob *xmpptest.Client) {
	t.Helper()
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>hello from a</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "hello from a")
	bob.Send("<message to='alice@a.test/phone' type='chat' id='m2'><body>hello from b</body></message>")
	xmpptest.ExpectBody(t, alice.NextNamed("message"), "bob@b.test/laptop", "hello from b")
}

// Servers whose _xmpps-server._tcp records come first talk over direct
// TLS (XEP-0368): the STARTTLS listener their other record names is
// closed.
func TestDirectTLSBySRV(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	alice, bob := foundByDNS(t, func(host string, s *xmpptest.Server) []string {
		return []string{srv("xmpps-server", host, 0, s.S2STLSAddr), srv("xmpp-server", host, 10, closed.Addr())}
	})
	exchange(t, alice, bob)
}

// A direct TLS target that fails its handshake (here it closes every
// connection at once) is skipped for the next record, after it was tried.
func TestDirectTLSFallsBack(t *testing.T) {
	broken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tried := impostor(t, broken, func(net.Conn) {})
	alice, bob := foundByDNS(t, func(host string, s *xmpptest.Server) []string {
		return []string{srv("xmpps-server", host, 0, broken.Addr()), srv("xmpp-server", host, 10, s.S2SAddr)}
	})
	exchange(t, alice, bob)
	if tried.Load() == 0 {
		t.Error("the direct TLS target was never tried")
	}
}

// Shutdown while a peer has not finished its direct TLS handshake closes
// the connection and returns.
func TestShutdownDuringDirectTLSHandshake(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen, c.S2S.ListenTLS = "127.0.0.1:0", "127.0.0.1:0"
	})
	peer := xmpptest.Dial(t, s.S2STLSAddr)
	peer.Send("\x16\x03\x01") // the start of a ClientHello, and no more
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := io.ReadAll(peer.Conn); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the peer's connection after shutdown: %v, want it closed", err)
	}
}

// A direct TLS target that completes the handshake but is no XMPP server
// (a multiplexer on port 443 sending it to a web server) is skipped for
// the next record.
func TestDirectTLSNotXMPP(t *testing.T) {
	certPEM, keyPEM, err := certs.Generate("b.test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	web, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	answered := impostor(t, web, func(c net.Conn) {
		c.Read(make([]byte, 512)) // the stream header, taken for a request
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
	})
	alice, bob := foundByDNS(t, func(host string, s *xmpptest.Server) []string {
		return []string{srv("xmpps-server", host, 0, web.Addr()), srv("xmpp-server", host, 10, s.S2SAddr)}
	})
	exchange(t, alice, bob)
	if answered.Load() == 0 {
		t.Error("the direct TLS target was never tried")
	}
}
