package s2s

import (
	"context"
	"errors"
	"slices"
	"testing"

	"xmppd/internal/dnstest"
)

// How SRV records become the targets tried, in order (RFC 6120 §3.2.1,
// XEP-0368).
func TestAddresses(t *testing.T) {
	dns := dnstest.Start(t, `
_xmpps-server._tcp.both.test. SRV 5 5 5270 tls.both.test.
_xmpp-server._tcp.both.test.  SRV 0 5 5269 first.both.test.
_xmpp-server._tcp.both.test.  SRV 5 5 5269 plain.both.test.
_xmpp-server._tcp.both.test.  SRV 9 5 5269 last.both.test.
_xmpp-server._tcp.plainonly.test. SRV 0 5 5269 a.plainonly.test.
_xmpps-server._tcp.notls.test. SRV 0 0 0 .
_xmpp-server._tcp.notls.test.  SRV 0 5 5269 a.notls.test.
_xmpps-server._tcp.dot.test. SRV 0 0 0 .
_xmpp-server._tcp.none.test. SRV 0 0 0 .
_xmpp-server._tcp.mixed.test. SRV 0 0 0 .
_xmpp-server._tcp.mixed.test. SRV 5 5 5269 real.mixed.test.
none-at-all.test. A 127.0.0.1
`)
	s := New(Config{}, nil)
	s.SetResolver(dns.Resolver())
	s.SetRoute("routed.test", "10.0.0.7:5269")
	for _, tc := range []struct {
		domain string
		want   []target
		err    error
	}{
		{"both.test", []target{{"first.both.test:5269", false}, {"tls.both.test:5270", true}, {"plain.both.test:5269", false}, {"last.both.test:5269", false}}, nil},
		{"plainonly.test", []target{{"a.plainonly.test:5269", false}}, nil},
		{"notls.test", []target{{"a.notls.test:5269", false}}, nil},
		{"dot.test", nil, errNoServer},
		{"none.test", nil, errNoServer},
		// A "." among others names no host, not this one.
		{"mixed.test", []target{{"real.mixed.test:5269", false}}, nil},
		{"none-at-all.test", []target{{"none-at-all.test:5269", false}}, nil},
		{"routed.test", []target{{"10.0.0.7:5269", false}}, nil},
	} {
		got, err := s.addresses(context.Background(), tc.domain)
		if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v, %v", tc.domain, got, err, tc.want, tc.err)
		}
	}
}
