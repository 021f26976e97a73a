// Package pebbletest runs Pebble, Let's Encrypt's ACME server for tests,
// with its DNS server answering 127.0.0.1 for every name, so that tests
// can obtain certificates for any domain from a real ACME server.
//
// Both are built from the module's tool dependencies (go.mod) with the go
// command, into the test's temporary directory.
package pebbletest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"xmppd/internal/xmpptest"
)

// module is Pebble's module path; its test certificates serve the API.
const module = "github.com/letsencrypt/pebble/v2"

// Pebble is a running ACME server.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// CAFile is the PEM root of the directory's HTTPS certificate.
	CAFile string
	// HTTPClient trusts CAFile.
	HTTPClient *http.Client

	management string // base URL of the management interface
}

// Start runs Pebble with HTTP-01 validations made to 127.0.0.1:httpPort
// and TLS-ALPN-01 validations to 127.0.0.1:tlsPort, for every domain; it
// stops when the test ends. It refuses to issue for blocked.example.
func Start(t testing.TB, httpPort, tlsPort int) *Pebble {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", dir, module+"/cmd/pebble", module+"/cmd/pebble-challtestsrv")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building pebble: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("finding pebble's module: %v", err)
	}
	src := strings.TrimSpace(string(out))

	dns := xmpptest.FreeAddr(t)
	start(t, "pebble-challtestsrv", "Starting management server", nil, filepath.Join(dir, "pebble-challtestsrv"),
		"-dnsserver", dns, "-management", xmpptest.FreeAddr(t), "-defaultIPv6", "",
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")

	api, management := xmpptest.FreeAddr(t), xmpptest.FreeAddr(t)
	config := map[string]any{"pebble": map[string]any{
		"listenAddress":                  api,
		"managementListenAddress":        management,
		"certificate":                    filepath.Join(src, "test/certs/localhost/cert.pem"),
		"privateKey":                     filepath.Join(src, "test/certs/localhost/key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"externalAccountBindingRequired": false,
		"domainBlocklist":                []string{"blocked.example"},
	}}
	configFile := filepath.Join(dir, "pebble.json")
	data, _ := json.Marshal(config)
	if err := os.WriteFile(configFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, "pebble", "Listening on:", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		filepath.Join(dir, "pebble"), "-config", configFile, "-dnsserver", dns)

	p := &Pebble{
		Directory:  "https://" + api + "/dir",
		CAFile:     filepath.Join(src, "test/certs/pebble.minica.pem"),
		management: "https://" + management,
	}
	roots := x509.NewCertPool()
	ca, err := os.ReadFile(p.CAFile)
	if err != nil || !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("reading pebble's CA %s: %v", p.CAFile, err)
	}
	p.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	// Both print their line before they serve: wait until they answer.
	answers(t, "pebble's directory", func() error {
		resp, err := p.HTTPClient.Get(p.Directory)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	answers(t, "pebble-challtestsrv's DNS", func() error {
		q := new(mdns.Msg)
		q.SetQuestion("probe.xmppd.test.", mdns.TypeA)
		_, err := mdns.Exchange(q, dns)
		return err
	})
	return p
}

// answers calls probe until it succeeds, for at most 30 seconds.
func answers(t testing.TB, what string, probe func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := probe()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond) // a process starting up: nothing to wait on
	}
}

// Roots returns the root that signs the certificates Pebble issues.
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	resp, err := p.HTTPClient.Get(p.management + "/roots/0")
	if err != nil {
		t.Fatalf("fetching pebble's root: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if err != nil || !pool.AppendCertsFromPEM(data) {
		t.Fatalf("reading pebble's root: %v %q", err, data)
	}
	return pool
}

// start runs a program until the test ends, and returns once it has
// printed a line containing ready.
func start(t testing.TB, name, ready string, env []string, path string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		w.Close()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s ended before it was ready:\n%s", name, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if testing.Verbose() {
				t.Log(name + ": " + line)
			}
			if strings.Contains(line, ready) {
				go func() { // keep draining, so that it never blocks on output
					for range lines {
					}
				}()
				return
			}
		case <-timeout:
			t.Fatalf("%s was not ready within 30 s:\n%s", name, strings.Join(seen, "\n"))
		}
	}
}
