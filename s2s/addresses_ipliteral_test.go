package s2s

import (
	"context"
	"slices"
	"testing"

	"xmppd/internal/dnstest"
)

// TestAddressesIPLiteral: a domain that is an IP address (RFC 7622 §3.2:
// an IPv6 one in brackets) has no SRV records to look up; its server is
// at that address, on port 5269. "[[::1]]:5269" cannot be dialled.
func TestAddressesIPLiteral(t *testing.T) {
	dns := dnstest.Start(t, "")
	s := New(Config{}, nil)
	s.SetResolver(dns.Resolver())
	for domain, want := range map[string]string{"[::1]": "[::1]:5269", "127.0.0.1": "127.0.0.1:5269"} {
		got, err := s.addresses(context.Background(), domain)
		if err != nil || !slices.Equal(got, []target{{addr: want}}) {
			t.Errorf("%s: %v, %v; want %s", domain, got, err, want)
		}
	}
}
