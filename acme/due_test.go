package acme

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	leaf := func(issued time.Time, names ...string) *x509.Certificate {
		return &x509.Certificate{DNSNames: names, NotBefore: issued, NotAfter: issued.Add(90 * day)}
	}
	for _, tc := range []struct {
		name string
		leaf *x509.Certificate
		due  bool
	}{
		{"fresh", leaf(now.Add(-day), "chat.example"), false},
		{"31 days left", leaf(now.Add(-59*day), "chat.example"), false},
		{"30 days left", leaf(now.Add(-60*day), "chat.example"), true},
		{"expired", leaf(now.Add(-100*day), "chat.example"), true},
		{"another name", leaf(now.Add(-day), "other.example"), true},
		{"wildcard", leaf(now.Add(-day), "*.example"), false},
	} {
		if got := due(tc.leaf, "chat.example", now); got != tc.due {
			t.Errorf("%s: due = %v, want %v", tc.name, got, tc.due)
		}
	}
}
