package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGenerated(t *testing.T) {
	tests := []struct {
		host     string
		file     string // base name under DataDir/certs
		wantDNS  []string
		wantIPs  []string
		verifyAs []string // server names a client trusting the cert can verify
	}{
		{host: "example.com", file: "example.com", wantDNS: []string{"example.com", "*.example.com"},
			verifyAs: []string{"example.com", "conference.example.com"}},
		{host: "Upper.Example.", file: "upper.example", wantDNS: []string{"upper.example", "*.upper.example"},
			verifyAs: []string{"upper.example"}},
		{host: "localhost", file: "localhost", wantDNS: []string{"localhost", "*.localhost"},
			wantIPs: []string{"127.0.0.1", "::1"}, verifyAs: []string{"localhost", "conference.localhost"}},
		{host: "192.0.2.7", file: "192.0.2.7", wantIPs: []string{"192.0.2.7"}},
		{host: "[::1]", file: "::1", wantIPs: []string{"::1"}},
		{host: "*.wild.example", file: "_.wild.example", wantDNS: []string{"*.wild.example", "wild.example"},
			verifyAs: []string{"x.wild.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			cfg := Config{Hosts: []HostCert{{Host: tc.host}}, DataDir: dataDir}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.Certificate(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			leaf := c.Leaf
			name, _ := normaliseHost(tc.host)
			if leaf.Subject.CommonName != name {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, name)
			}
			if !slices.Equal(leaf.DNSNames, tc.wantDNS) {
				t.Errorf("DNS names = %q, want %q", leaf.DNSNames, tc.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tc.wantIPs) {
				t.Errorf("IP addresses = %q, want %q", ips, tc.wantIPs)
			}
			pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("public key = %T, want ECDSA P-256", leaf.PublicKey)
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("key usage = %v, want digital signature", leaf.KeyUsage)
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("ext key usage = %v, want server auth", leaf.ExtKeyUsage)
			}
			if leaf.IsCA {
				t.Error("generated certificate is a CA")
			}
			if leaf.SerialNumber.Sign() <= 0 {
				t.Errorf("serial = %v, want positive", leaf.SerialNumber)
			}
			if d := time.Until(leaf.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
				t.Errorf("valid for %v more, want about a year", d)
			}
			if time.Now().Before(leaf.NotBefore) {
				t.Errorf("not valid yet: NotBefore %v", leaf.NotBefore)
			}

			// Files and their modes.
			dir := filepath.Join(dataDir, "certs")
			for _, f := range []struct {
				path string
				mode os.FileMode
			}{
				{dir, 0o700 | os.ModeDir},
				{filepath.Join(dir, tc.file+".key"), 0o600},
				{filepath.Join(dir, tc.file+".crt"), 0o644},
			} {
				fi, err := os.Stat(f.path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != f.mode {
					t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.mode)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 2 {
				t.Errorf("certs directory holds %d entries, want 2 (no temporary files left)", len(entries))
			}

			// Clients that trust the certificate verify it.
			pool := x509.NewCertPool()
			pool.AddCert(leaf)
			for _, sn := range tc.verifyAs {
				if _, err := handshake(serverConfig(s), &tls.Config{ServerName: sn, RootCAs: pool}); err != nil {
					t.Errorf("verified handshake as %q: %v", sn, err)
				}
			}

			// A second start reuses the certificate.
			s2, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c2, _ := s2.Certificate(tc.host)
			if c2.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Errorf("second New: serial %v, want the reused %v", c2.Leaf.SerialNumber, leaf.SerialNumber)
			}
		})
	}
}

func TestGeneratedSerialsDiffer(t *testing.T) {
	s, err := New(Config{Hosts: []HostCert{{Host: "a.example"}, {Host: "b.example"}}, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Certificate("a.example")
	b, _ := s.Certificate("b.example")
	if a.Leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) == 0 {
		t.Error("two generated certificates share a serial number")
	}
}

func TestGeneratedRenewal(t *testing.T) {
	const host = "renew.example"
	now := time.Now()
	tests := []struct {
		name  string
		write func(t *testing.T, certFile, keyFile string) // prepares DataDir/certs
		reuse bool
	}{
		{
			name: "expired",
			write: func(t *testing.T, certFile, keyFile string) {
				writeAt(t, certFile, keyFile, certSpec{dns: []string{host},
					notBefore: now.Add(-400 * 24 * time.Hour), notAfter: now.Add(-35 * 24 * time.Hour)})
			},
		},
		{
			name: "expires within 30 days",
			write: func(t *testing.T, certFile, keyFile string) {
				writeAt(t, certFile, keyFile, certSpec{dns: []string{host}, notAfter: now.Add(10 * 24 * time.Hour)})
			},
		},
		{
			name: "valid for 60 more days",
			write: func(t *testing.T, certFile, keyFile string) {
				writeAt(t, certFile, keyFile, certSpec{dns: []string{host}, notAfter: now.Add(60 * 24 * time.Hour)})
			},
			reuse: true,
		},
		{
			name: "not valid yet",
			write: func(t *testing.T, certFile, keyFile string) {
				writeAt(t, certFile, keyFile, certSpec{dns: []string{host}, notBefore: now.Add(24 * time.Hour)})
			},
		},
		{
			name: "other host",
			write: func(t *testing.T, certFile, keyFile string) {
				writeAt(t, certFile, keyFile, certSpec{dns: []string{"other.example"}})
			},
		},
		{
			name: "garbage",
			write: func(t *testing.T, certFile, keyFile string) {
				os.WriteFile(certFile, []byte("not a certificate"), 0o644)
				os.WriteFile(keyFile, []byte("not a key"), 0o600)
			},
		},
		{
			name: "key does not match",
			write: func(t *testing.T, certFile, keyFile string) {
				writeAt(t, certFile, keyFile, certSpec{dns: []string{host}})
				_, otherKey, _ := makeCert(t, certSpec{dns: []string{host}})
				os.WriteFile(keyFile, otherKey, 0o600)
			},
		},
		{
			name: "key missing",
			write: func(t *testing.T, certFile, keyFile string) {
				writeAt(t, certFile, keyFile, certSpec{dns: []string{host}})
				os.Remove(keyFile)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			dir := filepath.Join(dataDir, "certs")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			certFile, keyFile := filepath.Join(dir, host+".crt"), filepath.Join(dir, host+".key")
			tc.write(t, certFile, keyFile)
			old, _ := os.ReadFile(certFile)

			logger, logs := newLogger()
			s, err := New(Config{Hosts: []HostCert{{Host: host}}, DataDir: dataDir, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := s.Certificate(host)
			now, _ := os.ReadFile(certFile)
			if reused := string(now) == string(old); reused != tc.reuse {
				t.Fatalf("certificate file reused = %v, want %v", reused, tc.reuse)
			}
			if tc.reuse {
				return
			}
			if d := time.Until(c.Leaf.NotAfter); d < 364*24*time.Hour {
				t.Errorf("regenerated certificate valid for %v more, want about a year", d)
			}
			if fi, err := os.Stat(keyFile); err != nil || fi.Mode() != 0o600 {
				t.Errorf("key file after regeneration: %v, %v", fi, err)
			}
			// The store serves exactly what is on disk now.
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatalf("files after regeneration: %v", err)
			}
			if !pair.Leaf.Equal(c.Leaf) {
				t.Error("served certificate differs from the regenerated file")
			}
			if len(logs.lines("generated self-signed", host)) != 1 {
				t.Errorf("no log of the regeneration:\n%s", logs)
			}
		})
	}
}

// writeAt writes a certificate made per spec to the given paths.
func writeAt(t *testing.T, certFile, keyFile string, spec certSpec) {
	t.Helper()
	certPEM, keyPEM, _ := makeCert(t, spec)
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestGeneratedRenewedOnReload(t *testing.T) {
	const host = "reload.example"
	dataDir := t.TempDir()
	s, err := New(Config{Hosts: []HostCert{{Host: host}}, DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.Certificate(host)
	dir := filepath.Join(dataDir, "certs")
	writeAt(t, filepath.Join(dir, host+".crt"), filepath.Join(dir, host+".key"),
		certSpec{dns: []string{host}, notAfter: time.Now().Add(-time.Hour), notBefore: time.Now().Add(-48 * time.Hour)})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Certificate(host)
	if after.Leaf.SerialNumber.Cmp(before.Leaf.SerialNumber) == 0 || time.Until(after.Leaf.NotAfter) < 364*24*time.Hour {
		t.Errorf("reload did not renew the expired self-signed certificate (not after %v)", after.Leaf.NotAfter)
	}
}

func TestGeneratedInMemory(t *testing.T) {
	logger, logs := newLogger()
	s, err := New(Config{Hosts: []HostCert{{Host: "mem.example"}}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	leaf := peerCert(t, serverConfig(s), "mem.example")
	if leaf.VerifyHostname("mem.example") != nil {
		t.Errorf("in-memory certificate names %q", leaf.DNSNames)
	}
	if len(logs.lines("level=WARN", "self-signed", "mem.example", "in memory")) != 1 {
		t.Errorf("want one warning about the in-memory certificate:\n%s", logs)
	}
}

func TestSelfSignedWarnedOncePerHost(t *testing.T) {
	dir := t.TempDir()
	real := writeCert(t, dir, "real", certSpec{dns: []string{"real.example"}})
	logger, logs := newLogger()
	dataDir := filepath.Join(dir, "data")
	s, err := New(Config{
		Hosts: []HostCert{
			{Host: "real.example", CertFile: real.certFile, KeyFile: real.keyFile},
			{Host: "one.example"},
			{Host: "two.example"},
		},
		DataDir: dataDir,
		Logger:  logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	warnings := logs.lines("level=WARN", "self-signed")
	if len(warnings) != 2 {
		t.Fatalf("got %d self-signed warnings, want 2 (one per host):\n%s", len(warnings), logs)
	}
	for _, host := range []string{"one.example", "two.example"} {
		w := logs.lines("level=WARN", "self-signed", "host="+host)
		if len(w) != 1 {
			t.Errorf("host %s: %d warnings, want 1", host, len(w))
			continue
		}
		file := filepath.Join(dataDir, "certs", host+".crt")
		if !strings.Contains(w[0], file) || !strings.Contains(w[0], "tls.certificates") {
			t.Errorf("warning does not name the file %s and how to configure a real certificate: %s", file, w[0])
		}
	}
	if len(logs.lines("self-signed", "real.example")) != 0 {
		t.Errorf("host with real certificate reported as self-signed:\n%s", logs)
	}
}

func TestGeneratedRefusesUnsafeNames(t *testing.T) {
	for _, host := range []string{"../etc", "a/b", ".hidden", "bad host", "ümlaut.example"} {
		t.Run(host, func(t *testing.T) {
			_, err := New(Config{Hosts: []HostCert{{Host: host}}, DataDir: t.TempDir()})
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), host) {
				t.Errorf("error does not name the host: %v", err)
			}
		})
	}
}
