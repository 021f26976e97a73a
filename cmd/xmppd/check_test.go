package main

import (
	"strings"
	"testing"

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
