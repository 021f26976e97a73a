package certs

import (
	"crypto/tls"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadKeyForms(t *testing.T) {
	tests := []struct {
		name      string
		spec      certSpec
		wantChain int
	}{
		{name: "pkcs8 ecdsa", spec: certSpec{keyForm: "pkcs8-ecdsa"}, wantChain: 1},
		{name: "sec1 ec", spec: certSpec{keyForm: "ec"}, wantChain: 1},
		{name: "pkcs1 rsa", spec: certSpec{keyForm: "pkcs1-rsa"}, wantChain: 1},
		{name: "pkcs8 rsa", spec: certSpec{keyForm: "pkcs8-rsa"}, wantChain: 1},
		{name: "pkcs8 ed25519", spec: certSpec{keyForm: "pkcs8-ed25519"}, wantChain: 1},
		{name: "chain", spec: certSpec{chain: true}, wantChain: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.spec.dns = []string{"key.example"}
			c := writeCert(t, dir, "key", tc.spec)
			s, err := New(Config{Hosts: []HostCert{{Host: "key.example", CertFile: c.certFile, KeyFile: c.keyFile}}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Certificate("key.example")
			if err != nil {
				t.Fatal(err)
			}
			if got.Leaf.SerialNumber.Cmp(c.serial) != 0 {
				t.Errorf("serial %v, want %v", got.Leaf.SerialNumber, c.serial)
			}
			if len(got.Certificate) != tc.wantChain {
				t.Errorf("chain length %d, want %d", len(got.Certificate), tc.wantChain)
			}
			leaf, err := handshake(serverConfig(s), &tls.Config{ServerName: "key.example", InsecureSkipVerify: true})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if leaf.SerialNumber.Cmp(c.serial) != 0 {
				t.Errorf("handshake served serial %v, want %v", leaf.SerialNumber, c.serial)
			}
		})
	}
}

func TestSNI(t *testing.T) {
	dir := t.TempDir()
	a := writeCert(t, dir, "a", certSpec{dns: []string{"a.example"}})
	b := writeCert(t, dir, "b", certSpec{dns: []string{"b.example"}}) // no *.b.example
	w := writeCert(t, dir, "wild", certSpec{dns: []string{"*.wild.example"}})
	s, err := New(Config{
		Hosts: []HostCert{
			{Host: "a.example", CertFile: a.certFile, KeyFile: a.keyFile},
			{Host: "b.example", CertFile: b.certFile, KeyFile: b.keyFile},
			{Host: "*.wild.example", CertFile: w.certFile, KeyFile: w.keyFile},
			{Host: "gen.example"}, // self-signed, covers *.gen.example
		},
		DataDir: filepath.Join(dir, "data"),
	})
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := s.Certificate("gen.example")

	tests := []struct {
		serverName string
		want       *big.Int
	}{
		{"a.example", a.serial},
		{"b.example", b.serial},
		{"B.Example", b.serial},
		{"b.example.", b.serial},
		{"x.wild.example", w.serial},
		{"y.x.wild.example", a.serial}, // a wildcard covers one label only
		{"wild.example", a.serial},     // nor the bare parent
		{"gen.example", gen.Leaf.SerialNumber},
		{"conference.gen.example", gen.Leaf.SerialNumber}, // parent's cert names *.gen.example
		{"conference.b.example", a.serial},                // b's cert does not cover it
		{"unknown.test", a.serial},
		{"", a.serial},
	}
	cfg := serverConfig(s)
	for _, tc := range tests {
		t.Run("sni="+tc.serverName, func(t *testing.T) {
			leaf := peerCert(t, cfg, tc.serverName)
			if leaf.SerialNumber.Cmp(tc.want) != 0 {
				t.Errorf("served serial %v (names %q), want %v", leaf.SerialNumber, leaf.DNSNames, tc.want)
			}
			c, err := s.Certificate(tc.serverName)
			if err != nil {
				t.Fatal(err)
			}
			if c.Leaf.SerialNumber.Cmp(tc.want) != 0 {
				t.Errorf("Certificate(%q) serial %v, want %v", tc.serverName, c.Leaf.SerialNumber, tc.want)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	s, err := New(Config{Hosts: []HostCert{{Host: "v.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
	}
	if cfg.NextProtos != nil {
		t.Errorf("NextProtos = %q, want it left to the caller", cfg.NextProtos)
	}
	if s.TLSConfig() == cfg {
		t.Error("TLSConfig returns a shared configuration; callers setting NextProtos would interfere")
	}
	tests := []struct {
		name    string
		version uint16
		ok      bool
	}{
		{"tls1.1", tls.VersionTLS11, false},
		{"tls1.2", tls.VersionTLS12, true},
		{"tls1.3", tls.VersionTLS13, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := handshake(serverConfig(s), &tls.Config{
				ServerName: "v.example", InsecureSkipVerify: true,
				MinVersion: tc.version, MaxVersion: tc.version,
			})
			if (err == nil) != tc.ok {
				t.Errorf("handshake error = %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeCert(t, dir, "good", certSpec{dns: []string{"h.example"}})
	other := writeCert(t, dir, "other", certSpec{dns: []string{"h.example"}})
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, nil, 0o644)
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name  string
		hosts []HostCert
		want  []string // substrings of the error
		is    error
	}{
		{name: "no hosts", want: []string{"no hosts"}},
		{name: "duplicate", hosts: []HostCert{{Host: "h.example"}, {Host: "H.example."}}, want: []string{"H.example.", "twice"}},
		{name: "cert without key", hosts: []HostCert{{Host: "h.example", CertFile: good.certFile}}, want: []string{"h.example", "both"}},
		{name: "key without cert", hosts: []HostCert{{Host: "h.example", KeyFile: good.keyFile}}, want: []string{"h.example", "both"}},
		{name: "empty host", hosts: []HostCert{{Host: ""}}, want: []string{"not a valid host"}},
		{name: "bad wildcard", hosts: []HostCert{{Host: "a.*.example"}}, want: []string{"a.*.example"}},
		{name: "missing cert file", hosts: []HostCert{{Host: "h.example", CertFile: missing, KeyFile: good.keyFile}},
			want: []string{"h.example", missing}, is: os.ErrNotExist},
		{name: "missing key file", hosts: []HostCert{{Host: "h.example", CertFile: good.certFile, KeyFile: missing}},
			want: []string{"h.example", missing}, is: os.ErrNotExist},
		{name: "garbage cert", hosts: []HostCert{{Host: "h.example", CertFile: garbage, KeyFile: good.keyFile}},
			want: []string{"h.example", garbage}},
		{name: "empty cert", hosts: []HostCert{{Host: "h.example", CertFile: empty, KeyFile: good.keyFile}},
			want: []string{"h.example", empty, "no PEM CERTIFICATE"}},
		{name: "no key in key file", hosts: []HostCert{{Host: "h.example", CertFile: good.certFile, KeyFile: good.certFile}},
			want: []string{"h.example", "key file " + good.certFile}},
		{name: "key does not match", hosts: []HostCert{{Host: "h.example", CertFile: good.certFile, KeyFile: other.keyFile}},
			want: []string{"h.example", good.certFile, other.keyFile}},
		{name: "second host fails", hosts: []HostCert{
			{Host: "h.example", CertFile: good.certFile, KeyFile: good.keyFile},
			{Host: "i.example", CertFile: missing, KeyFile: good.keyFile},
		}, want: []string{"i.example", missing}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Hosts: tc.hosts, DataDir: filepath.Join(dir, "data")})
			if err == nil {
				t.Fatalf("New succeeded: %v", s)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestLoadedCertificateChecks(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		spec certSpec
		want []string // substrings of one log line
	}{
		{name: "good", spec: certSpec{dns: []string{"c.example"}},
			want: []string{"level=INFO", "loaded TLS certificate", "host=c.example", "not_after="}},
		{name: "wrong host", spec: certSpec{dns: []string{"other.example"}},
			want: []string{"level=WARN", "does not cover", "host=c.example"}},
		{name: "expired", spec: certSpec{dns: []string{"c.example"}, notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)},
			want: []string{"level=WARN", "expired", "host=c.example", "not_after="}},
		{name: "expires soon", spec: certSpec{dns: []string{"c.example"}, notAfter: now.Add(5 * 24 * time.Hour)},
			want: []string{"level=WARN", "expires soon", "host=c.example"}},
		{name: "not yet valid", spec: certSpec{dns: []string{"c.example"}, notBefore: now.Add(time.Hour)},
			want: []string{"level=WARN", "not valid yet", "host=c.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := writeCert(t, t.TempDir(), "c", tc.spec)
			logger, logs := newLogger()
			s, err := New(Config{Hosts: []HostCert{{Host: "c.example", CertFile: c.certFile, KeyFile: c.keyFile}}, Logger: logger})
			if err != nil {
				t.Fatalf("New: %v (problems with a loaded certificate must only warn)", err)
			}
			if got, _ := s.Certificate("c.example"); got.Leaf.SerialNumber.Cmp(c.serial) != 0 {
				t.Error("certificate not served")
			}
			if len(logs.lines(append(tc.want, "file="+c.certFile)...)) != 1 {
				t.Errorf("want a log line with %q naming the file; log:\n%s", tc.want, logs)
			}
		})
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	a1 := writeCert(t, dir, "a", certSpec{dns: []string{"a.example"}})
	b1 := writeCert(t, dir, "b", certSpec{dns: []string{"b.example"}})
	s, err := New(Config{Hosts: []HostCert{
		{Host: "a.example", CertFile: a1.certFile, KeyFile: a1.keyFile},
		{Host: "b.example", CertFile: b1.certFile, KeyFile: b1.keyFile},
		{Host: "c.example"},
	}, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serverConfig(s) // taken before the reloads: it must follow them
	c1, _ := s.Certificate("c.example")

	// Replace both files on disk; Reload; new handshakes see the new certificates.
	a2 := writeCert(t, dir, "a", certSpec{dns: []string{"a.example"}})
	b2 := writeCert(t, dir, "b", certSpec{dns: []string{"b.example"}})
	if got := peerCert(t, cfg, "a.example").SerialNumber; got.Cmp(a1.serial) != 0 {
		t.Fatalf("before Reload: serial %v, want the old %v", got, a1.serial)
	}
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	for _, want := range []issued{a2, b2} {
		sn := strings.TrimSuffix(filepath.Base(want.certFile), ".pem") + ".example"
		if got := peerCert(t, cfg, sn).SerialNumber; got.Cmp(want.serial) != 0 {
			t.Errorf("after Reload, %s: serial %v, want the new %v", sn, got, want.serial)
		}
	}
	if c2, _ := s.Certificate("c.example"); !c2.Leaf.Equal(c1.Leaf) {
		t.Error("Reload replaced a self-signed certificate that was still good")
	}

	// A broken file for a keeps a's old certificate, while b is still reloaded.
	tests := []struct {
		name   string
		break_ func()
		file   string
	}{
		{"garbage cert", func() { os.WriteFile(a2.certFile, []byte("garbage"), 0o644) }, a2.certFile},
		{"removed key", func() { os.Remove(a2.keyFile) }, a2.keyFile},
		{"mismatched key", func() {
			_, k, _ := makeCert(t, certSpec{})
			os.WriteFile(a2.keyFile, k, 0o600)
		}, a2.keyFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			writeCert(t, dir, "a", certSpec{dns: []string{"a.example"}}) // good files again, not loaded
			tc.break_()
			b3 := writeCert(t, dir, "b", certSpec{dns: []string{"b.example"}})
			err := s.Reload()
			if err == nil {
				t.Fatal("Reload succeeded with a broken file")
			}
			for _, w := range []string{"a.example", tc.file} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "b.example") {
				t.Errorf("error %q blames the good host", err)
			}
			if got := peerCert(t, cfg, "a.example").SerialNumber; got.Cmp(a2.serial) != 0 {
				t.Errorf("a.example after failed Reload: serial %v, want the kept %v", got, a2.serial)
			}
			if got := peerCert(t, cfg, "b.example").SerialNumber; got.Cmp(b3.serial) != 0 {
				t.Errorf("b.example after partial Reload: serial %v, want the new %v", got, b3.serial)
			}
		})
	}

	// Repaired files load again.
	a4 := writeCert(t, dir, "a", certSpec{dns: []string{"a.example"}})
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload after repair: %v", err)
	}
	if got := peerCert(t, cfg, "a.example").SerialNumber; got.Cmp(a4.serial) != 0 {
		t.Errorf("after repair: serial %v, want %v", got, a4.serial)
	}
}

func TestReloadFirstHostFallbackFollows(t *testing.T) {
	dir := t.TempDir()
	a1 := writeCert(t, dir, "a", certSpec{dns: []string{"a.example"}})
	s, err := New(Config{Hosts: []HostCert{{Host: "a.example", CertFile: a1.certFile, KeyFile: a1.keyFile}}})
	if err != nil {
		t.Fatal(err)
	}
	a2 := writeCert(t, dir, "a", certSpec{dns: []string{"a.example"}})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := peerCert(t, serverConfig(s), "").SerialNumber; got.Cmp(a2.serial) != 0 {
		t.Errorf("no-SNI handshake after Reload: serial %v, want %v", got, a2.serial)
	}
}

func TestConcurrentHandshakesAndReload(t *testing.T) {
	dir := t.TempDir()
	const n = 2
	var pairs [n]issued
	for i := range pairs {
		pairs[i] = writeCert(t, t.TempDir(), "x", certSpec{dns: []string{"x.example"}})
	}
	cur := writeCert(t, dir, "x", certSpec{dns: []string{"x.example"}})
	valid := map[string]bool{cur.serial.String(): true}
	for _, p := range pairs {
		valid[p.serial.String()] = true
	}
	s, err := New(Config{Hosts: []HostCert{
		{Host: "x.example", CertFile: cur.certFile, KeyFile: cur.keyFile},
		{Host: "y.example"},
	}, DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	y, _ := s.Certificate("y.example")
	cfg := serverConfig(s)

	stop := make(chan struct{})
	var reloads atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := pairs[i%n]
			if err := writeFileAtomic(cur.certFile, p.certPEM, 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := writeFileAtomic(cur.keyFile, p.keyPEM, 0o600); err != nil {
				t.Error(err)
				return
			}
			if err := s.Reload(); err != nil {
				t.Error(err)
				return
			}
			reloads.Add(1)
		}
	})

	var handshakes atomic.Int64
	var hwg sync.WaitGroup
	for range 8 {
		hwg.Go(func() {
			for range 25 {
				leaf, err := handshake(cfg, &tls.Config{ServerName: "x.example", InsecureSkipVerify: true})
				if err != nil {
					t.Error(err)
					return
				}
				if !valid[leaf.SerialNumber.String()] {
					t.Errorf("served unknown serial %v", leaf.SerialNumber)
				}
				if c, err := s.Certificate("y.example"); err != nil || !c.Leaf.Equal(y.Leaf) {
					t.Error("y.example changed during reloads")
				}
				handshakes.Add(1)
			}
		})
	}
	hwg.Wait()
	close(stop)
	wg.Wait()
	if reloads.Load() == 0 {
		t.Error("no reload ran during the handshakes")
	}
	t.Logf("%d handshakes during %d reloads", handshakes.Load(), reloads.Load())
}

// Installed certificates (ACME's) replace a host's self-signed one, also
// for clients without SNI, serve names that are not hosts, survive Reload,
// and are not warned about.
func TestInstall(t *testing.T) {
	log, logs := newLogger()
	s, err := New(Config{Hosts: []HostCert{{Host: "a.example", ACME: true}, {Host: "b.example"}}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	install := func(name string) *big.Int {
		certPEM, keyPEM, serial := makeCert(t, certSpec{dns: []string{name}})
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		s.Install(name, &pair)
		return serial
	}
	a := install("a.example")
	conference := install("Conference.A.example.")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	for sn, want := range map[string]*big.Int{"a.example": a, "": a, "conference.a.example": conference} {
		if got := peerCert(t, serverConfig(s), sn).SerialNumber; got.Cmp(want) != 0 {
			t.Errorf("server name %q: serial %v, want the installed %v", sn, got, want)
		}
	}
	if leaf := peerCert(t, serverConfig(s), "b.example"); leaf.VerifyHostname("b.example") != nil {
		t.Errorf("b.example got a certificate for %v", leaf.DNSNames)
	}
	if got := logs.lines("self-signed", "a.example"); len(got) != 0 {
		t.Errorf("warned about the self-signed certificate of an ACME host: %q", got)
	}
}
