package config

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "empty is default", doc: "", check: func(t *testing.T, c Config) {
			if len(c.Hosts) != 1 || c.Hosts[0] != "localhost" || c.C2S.Listen != ":5222" || !c.C2S.RequireTLS {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{name: "hosts normalised", doc: `hosts = ["Example.COM", "chat.example.net"]`, check: func(t *testing.T, c Config) {
			if c.Hosts[0] != "example.com" {
				t.Errorf("host = %q, want lower case", c.Hosts[0])
			}
		}},
		{name: "overrides", doc: "[limits]\nmax_stanza_bytes = 65536\n[http]\nbehind_tls_proxy = true", check: func(t *testing.T, c Config) {
			if c.Limits.MaxStanzaBytes != 65536 || !c.HTTP.BehindTLSProxy || c.Limits.MaxDepth != 32 {
				t.Errorf("override lost: %+v", c.Limits)
			}
		}},
		{name: "unknown key", doc: "[c2s]\nlisen = ':1'", wantErr: "unknown settings: c2s.lisen"},
		{name: "bad host", doc: `hosts = ["a b"]`, wantErr: "not a valid domain"},
		{name: "duplicate host", doc: `hosts = ["a.org", "A.org"]`, wantErr: "listed twice"},
		{name: "cert for unknown host", doc: "[[tls.certificates]]\nhost='x.org'\ncert='c'\nkey='k'", wantErr: "not in hosts"},
		{name: "small stanza limit", doc: "[limits]\nmax_stanza_bytes = 100", wantErr: "below the RFC 6120 minimum"},
		{name: "bad listener", doc: "[c2s]\nlisten = '5222'", wantErr: "not host:port"},
		{name: "bad level", doc: "log_level = 'loud'", wantErr: "log_level"},
		{name: "not toml", doc: "hosts = [", wantErr: "parsing config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.doc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestExampleFileIsValid(t *testing.T) {
	if _, err := Load("../xmppd.example.toml"); err != nil {
		t.Fatal(err)
	}
}
