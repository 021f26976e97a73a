package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/selfcheck"
)

func TestPrintFindings(t *testing.T) {
	var out strings.Builder
	err := printFindings(&out, []selfcheck.Finding{
		{Subject: "_xmpp-client._tcp.example.org", Level: selfcheck.OK, Text: "SRV points to example.org port 5222"},
		{Subject: "example.org certificate", Level: selfcheck.Fail, Text: "expired"},
	})
	if err == nil || !strings.Contains(err.Error(), "1 problem") {
		t.Errorf("err = %v, want one problem counted", err)
	}
	want := "ok    _xmpp-client._tcp.example.org: SRV points to example.org port 5222\nFAIL  example.org certificate: expired\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	out.Reset()
	if err := printFindings(&out, []selfcheck.Finding{{Subject: "x", Level: selfcheck.Warn, Text: "y"}}); err != nil ||
		!strings.HasSuffix(out.String(), "no problem keeps clients or servers out\n") {
		t.Errorf("warnings only: %v, %q", err, out.String())
	}
}

// check-config loads the certificate and key files the configuration
// names, as the server does at start, and names the setting at fault.
func TestCheckConfigLoadsCertificateFiles(t *testing.T) {
	ca := xmpptest.NewCA(t)
	good, other := ca.Issue(t, "localhost"), ca.Issue(t, "example.test")
	dir := t.TempDir()
	for _, c := range []struct {
		name, cert, key, want string
	}{
		{"good", good.Cert, good.Key, ""},
		{"missing key", good.Cert, filepath.Join(dir, "nowhere.key"), "nowhere.key"},
		{"mismatched key", good.Cert, other.Key, "private key does not match"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "xmppd.toml")
			doc := fmt.Sprintf("[[tls.certificates]]\nhost = 'localhost'\ncert = %q\nkey = %q\n", c.cert, c.key)
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			err := run([]string{"-c", path, "check-config"}, strings.NewReader(""), &out, io.Discard)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("check-config: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "tls.certificates") || !strings.Contains(err.Error(), "localhost")):
				t.Fatalf("check-config = %v (printed %q); want an error naming tls.certificates, the host and %q", err, out.String(), c.want)
			}
		})
	}
}
