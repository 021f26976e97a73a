// Package dnstest runs a DNS server on 127.0.0.1 for one test, answering
// from records given in master file syntax, and a resolver that asks it.
package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a DNS server for one test.
type Server struct {
	addr string

	mu      sync.Mutex
	records map[string][]dns.RR // by "name./TYPE"
}

// Start serves the records of zone (one per line) until the test ends.
func Start(t testing.TB, zone string) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{addr: pc.LocalAddr().String(), records: map[string][]dns.RR{}}
	for _, line := range strings.Split(strings.TrimSpace(zone), "\n") {
		if strings.TrimSpace(line) != "" {
			s.Add(t, line)
		}
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.answer)}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

// Add serves one more record, such as "_xmpp-server._tcp.example.org.
// SRV 0 5 5269 xmpp.example.org.".
func (s *Server) Add(t testing.TB, record string) {
	t.Helper()
	rr, err := dns.NewRR(record)
	if err != nil {
		t.Fatalf("record %q: %v", record, err)
	}
	key := strings.ToLower(rr.Header().Name) + "/" + dns.TypeToString[rr.Header().Rrtype]
	s.mu.Lock()
	s.records[key] = append(s.records[key], rr)
	s.mu.Unlock()
}

// Resolver returns a resolver that asks only this server.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.addr)
	}}
}

// answer answers one query: the records of its name and type, no data for
// a name with records of other types only, NXDOMAIN otherwise.
func (s *Server) answer(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	name := strings.ToLower(q.Question[0].Name)
	s.mu.Lock()
	m.Answer = s.records[name+"/"+dns.TypeToString[q.Question[0].Qtype]]
	if len(m.Answer) == 0 {
		m.Rcode = dns.RcodeNameError
		for key := range s.records {
			if strings.HasPrefix(key, name+"/") {
				m.Rcode = dns.RcodeSuccess
			}
		}
	}
	s.mu.Unlock()
	w.WriteMsg(m)
}
