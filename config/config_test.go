package config

import (
	"os"
	"path/filepath"
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
		{name: "scram hashes", doc: "[c2s]\nscram_hashes = ['SHA-1']", check: func(t *testing.T, c Config) {
			if len(c.C2S.SCRAMHashes) != 1 || c.C2S.SCRAMHashes[0] != "SHA-1" {
				t.Errorf("scram_hashes %v", c.C2S.SCRAMHashes)
			}
		}},
		{name: "bad scram hash", doc: "[c2s]\nscram_hashes = ['MD5']", wantErr: "c2s.scram_hashes"},
		{name: "repeated scram hash", doc: "[c2s]\nscram_hashes = ['SHA-1', 'SHA-1']", wantErr: "c2s.scram_hashes"},
		{name: "bad host", doc: `hosts = ["a b"]`, wantErr: "not a valid domain"},
		{name: "host with an empty label", doc: `hosts = ["example..org"]`, wantErr: `hosts: "example..org" is not a valid domain: each label`},
		{name: "host starting with a dot", doc: `hosts = [".example.org"]`, wantErr: `hosts: ".example.org" is not a valid domain`},
		{name: "host with two final dots", doc: `hosts = ["example.org.."]`, wantErr: `hosts: "example.org.." is not a valid domain`},
		{name: "host with a long label", doc: `hosts = ["` + strings.Repeat("a", 64) + `.org"]`, wantErr: "is not a valid domain"},
		{name: "hosts with a final dot, an IP address", doc: `hosts = ["example.org.", "192.0.2.1", "[2001:db8::1]"]`, check: func(t *testing.T, c Config) {
			if strings.Join(c.Hosts, " ") != "example.org 192.0.2.1 [2001:db8::1]" {
				t.Errorf("hosts = %q", c.Hosts)
			}
		}},
		{name: "s2s routes normalised", doc: "[s2s.routes]\n'Example.ORG.' = '192.0.2.1:5269'", check: func(t *testing.T, c Config) {
			if len(c.S2S.Routes) != 1 || c.S2S.Routes["example.org"] != "192.0.2.1:5269" {
				t.Errorf("s2s.routes = %v, want example.org's", c.S2S.Routes)
			}
		}},
		{name: "s2s route for a host in upper case", doc: "[s2s.routes]\nLOCALHOST = '192.0.2.1:5269'", wantErr: "s2s.routes: LOCALHOST is a local host"},
		{name: "s2s route not a domain", doc: "[s2s.routes]\n'a b' = '192.0.2.1:5269'", wantErr: `s2s.routes: "a b" is not a valid domain`},
		{name: "duplicate host", doc: `hosts = ["a.org", "A.org"]`, wantErr: "listed twice"},
		{name: "cert for unknown host", doc: "[[tls.certificates]]\nhost='x.org'\ncert='c'\nkey='k'", wantErr: "not in hosts"},
		{name: "small stanza limit", doc: "[limits]\nmax_stanza_bytes = 100", wantErr: "below the RFC 6120 minimum"},
		{name: "bad listener", doc: "[c2s]\nlisten = '5222'", wantErr: "not host:port"},
		{name: "listener port out of range", doc: "[c2s]\nlisten = ':99999'", wantErr: "c2s.listen: \":99999\" has no valid port"},
		{name: "two listeners on one port", doc: "[c2s]\nlisten = ':5280'", wantErr: "http.listen: \":5280\": c2s.listen listens there already"},
		{name: "a listener on an address another has all of", doc: "[metrics]\nlisten = '127.0.0.1:5223'", wantErr: "metrics.listen: \"127.0.0.1:5223\": c2s.listen_tls listens there already"},
		{name: "listeners on one port of different addresses", doc: "[c2s]\nlisten = '127.0.0.1:5300'\nlisten_tls = '127.0.0.2:5300'"},
		{name: "listeners on port 0", doc: "[c2s]\nlisten = '127.0.0.1:0'\nlisten_tls = '127.0.0.1:0'"},
		{name: "a listener not opened shares a port", doc: "[http]\nlisten = ':80'\n[c2s]\nlisten = '127.0.0.1:5347'"},
		{name: "bad level", doc: "log_level = 'loud'", wantErr: "log_level"},
		{name: "negotiation beyond revocations", doc: "[limits]\nnegotiation_seconds = 1000", wantErr: "limits.negotiation_seconds"},
		{name: "admins", doc: `admins = ["Boss@Example.ORG"]`, check: func(t *testing.T, c Config) {
			if len(c.Admins) != 1 || c.Admins[0] != "boss@example.org" {
				t.Errorf("admins %q", c.Admins)
			}
		}},
		{name: "admin with a resource", doc: `admins = ["boss@example.org/desk"]`, wantErr: "not the bare JID"},
		{name: "admin without a localpart", doc: `admins = ["example.org"]`, wantErr: "not the bare JID"},
		{name: "contact", doc: "[contact]\nabuse = ['mailto:abuse@example.org']\nadmin = ['xmpp:boss@example.org']", check: func(t *testing.T, c Config) {
			if f := c.Contact.Fields(); len(f) != 2 || f["abuse-addresses"][0] != "mailto:abuse@example.org" {
				t.Errorf("contact fields %v", f)
			}
		}},
		{name: "outage status not http", doc: "[contact]\noutage_status = ['xmpp:status@example.org']", wantErr: "contact.outage_status"},
		{name: "public url without a scheme", doc: "[http]\npublic_url = 'chat.example.org'", wantErr: `http.public_url: "chat.example.org" is not the http(s) URL`},
		{name: "public url not http", doc: "[http]\npublic_url = 'xmpp:chat.example.org'", wantErr: "http.public_url"},
		{name: "public url with a query", doc: "[http]\npublic_url = 'https://chat.example.org/?a=b'", wantErr: "http.public_url"},
		{name: "public url under a path", doc: "[http]\npublic_url = 'https://example.org/xmpp/'", check: func(t *testing.T, c Config) {
			if c.HTTP.PublicURL != "https://example.org/xmpp/" {
				t.Errorf("public_url = %q", c.HTTP.PublicURL)
			}
		}},
		{name: "trusted proxy not an address", doc: "[http]\ntrusted_proxies = ['proxy.example.org']", wantErr: "http.trusted_proxies"},
		{name: "trusted proxies as ranges", doc: "[http]\ntrusted_proxies = ['10.0.0.0/8', 'fd00::1']", check: func(t *testing.T, c Config) {
			if p, err := c.HTTP.TrustedProxyPrefixes(); err != nil || len(p) != 2 || p[1].Bits() != 128 {
				t.Errorf("trusted proxies %v, %v", p, err)
			}
		}},
		{name: "contact not a URI", doc: "[contact]\nsecurity = ['security@example.org']", wantErr: "contact.security"},
		{name: "component privileges", doc: "[[components.external]]\ndomain = 'gw.example.org'\nsecret = 'long secret'\nprivileges = { roster = 'both', message = 'outgoing' }", check: func(t *testing.T, c Config) {
			if p := c.Components.External[0].Privileges; p.Roster != "both" || p.Message != "outgoing" {
				t.Errorf("privileges %+v", p)
			}
		}},
		{name: "bad roster privilege", doc: "[[components.external]]\ndomain = 'gw.example.org'\nsecret = 'long secret'\nprivileges = { roster = 'all' }", wantErr: "roster privilege"},
		{name: "bad message privilege", doc: "[[components.external]]\ndomain = 'gw.example.org'\nsecret = 'long secret'\nprivileges = { message = 'both' }", wantErr: "message privilege"},
		{name: "iq privilege", doc: "[[components.external]]\ndomain = 'gw.example.org'\nsecret = 'long secret'\nprivileges = { iq = { 'http://jabber.org/protocol/pubsub' = 'both' } }", check: func(t *testing.T, c Config) {
			if p := c.Components.External[0].Privileges.IQ; p["http://jabber.org/protocol/pubsub"] != "both" || len(p) != 1 {
				t.Errorf("iq privileges %v", p)
			}
		}},
		{name: "no roster pushes", doc: "[[components.external]]\ndomain = 'gw.example.org'\nsecret = 'long secret'\nprivileges = { roster = 'get', roster_push = false }", check: func(t *testing.T, c Config) {
			if p := c.Components.External[0].Privileges.RosterPush; p == nil || *p {
				t.Errorf("roster_push %v, want false", p)
			}
		}},
		{name: "bad iq privilege", doc: "[[components.external]]\ndomain = 'gw.example.org'\nsecret = 'long secret'\nprivileges = { iq = { 'jabber:iq:roster' = 'all' } }", wantErr: "iq privilege"},
		{name: "iq privilege of privileges", doc: "[[components.external]]\ndomain = 'gw.example.org'\nsecret = 'long secret'\nprivileges = { iq = { 'urn:xmpp:privilege:2' = 'set' } }", wantErr: "iq privilege"},
		{name: "negative client rate", doc: "[limits]\nclient_bytes_per_second = -1", wantErr: "client_bytes_per_second"},
		{name: "not toml", doc: "hosts = [", wantErr: "parsing config"},
		{name: "muc defaults", doc: "", check: func(t *testing.T, c Config) {
			if c.MUC.FloodRate != 0 || c.MUC.FloodBurst != 20 || c.MUC.MaxOwnedRooms != 100 {
				t.Errorf("muc = %+v, want flood_rate 0 (no limit), flood_burst 20, max_owned_rooms 100", c.MUC)
			}
		}},
		{name: "muc flood limit", doc: "[muc]\nflood_rate = 0.5\nflood_burst = 3", check: func(t *testing.T, c Config) {
			if c.MUC.FloodRate != 0.5 || c.MUC.FloodBurst != 3 {
				t.Errorf("muc = %+v, want flood_rate 0.5, flood_burst 3", c.MUC)
			}
		}},
		{name: "muc flood rate as integer", doc: "[muc]\nflood_rate = 2", check: func(t *testing.T, c Config) {
			if c.MUC.FloodRate != 2 || c.MUC.FloodBurst != 20 {
				t.Errorf("muc = %+v, want flood_rate 2, flood_burst 20", c.MUC)
			}
		}},
		{name: "muc no flood limit", doc: "[muc]\nflood_rate = 0\nflood_burst = 0", check: func(t *testing.T, c Config) {
			if c.MUC.FloodRate != 0 {
				t.Errorf("muc = %+v, want no flood limit", c.MUC)
			}
		}},
		{name: "muc negative rate", doc: "[muc]\nflood_rate = -1", wantErr: "muc.flood_rate: -1 must be 0 (no limit) or a positive number"},
		{name: "muc infinite rate", doc: "[muc]\nflood_rate = inf", wantErr: "muc.flood_rate: +Inf"},
		{name: "muc nan rate", doc: "[muc]\nflood_rate = nan", wantErr: "muc.flood_rate: NaN"},
		{name: "muc negative burst", doc: "[muc]\nflood_burst = -5", wantErr: "muc.flood_burst: -5 must not be negative"},
		{name: "muc owned rooms", doc: "[muc]\nmax_owned_rooms = 3", check: func(t *testing.T, c Config) {
			if c.MUC.MaxOwnedRooms != 3 {
				t.Errorf("muc = %+v, want max_owned_rooms 3", c.MUC)
			}
		}},
		{name: "muc no owned rooms", doc: "[muc]\nmax_owned_rooms = 0", wantErr: "muc.max_owned_rooms: 0 must be positive"},
		{name: "muc zero burst with a rate", doc: "[muc]\nflood_rate = 10\nflood_burst = 0", wantErr: "muc.flood_burst: must be at least 1 when muc.flood_rate is set"},
		{name: "invitations without registration", doc: "[registration]\nrequire_invite = true", wantErr: "registration.require_invite: invitations are for in-band registration, which is off: set registration.enabled = true"},
		{name: "cluster without a shared database", doc: "[cluster]\nnats = 'nats://127.0.0.1:4222'", wantErr: "set database.url"},
		{name: "cluster heartbeat beyond timeout", doc: "[cluster]\nheartbeat_ms = 5000\ntimeout_ms = 5000", wantErr: "below timeout_ms"},
		{name: "secure_auth without require_tls", doc: "[s2s]\nsecure_auth = true\nrequire_tls = false", wantErr: "s2s.require_tls"},
		{name: "http.listen_tls not host:port", doc: "[http]\nlisten_tls = \"5281\"", wantErr: "http.listen_tls"},
		{name: "cluster wildcard subject", doc: "[database]\nurl = 'postgres://db/x'\n[cluster]\nnats = 'nats://127.0.0.1:4222'\nsubject = 'a.>'", wantErr: "without wildcards"},
		{name: "cluster", doc: "[database]\nurl = 'postgres://db/x'\n[cluster]\nnats = 'nats://127.0.0.1:4222'", check: func(t *testing.T, c Config) {
			if c.Cluster.Subject != "xmppd" || c.Cluster.HeartbeatMS != 1000 || c.Cluster.TimeoutMS != 5000 {
				t.Errorf("cluster = %+v, want the defaults", c.Cluster)
			}
		}},
		{name: "muc unknown key", doc: "[muc]\nflood = 1", wantErr: "unknown settings: muc.flood"},
		{name: "component", doc: "[[components.external]]\ndomain = 'IRC.localhost'\nsecret = 'long enough'", check: func(t *testing.T, c Config) {
			if c.Components.Listen != "127.0.0.1:5347" || len(c.Components.External) != 1 || c.Components.External[0].Domain != "irc.localhost" {
				t.Errorf("components = %+v, want irc.localhost on the default listener", c.Components)
			}
		}},
		{name: "component on a host's domain", doc: "[[components.external]]\ndomain = 'localhost'\nsecret = 'long enough'", wantErr: "components.external: localhost is a host domain"},
		{name: "component on the rooms' domain", doc: "[[components.external]]\ndomain = 'conference.localhost'\nsecret = 'long enough'", wantErr: "the multi-user chat service's domain"},
		{name: "component twice", doc: "[[components.external]]\ndomain = 'gw.localhost'\nsecret = 'long enough'\n[[components.external]]\ndomain = 'gw.localhost'\nsecret = 'long enough'", wantErr: "gw.localhost is another component's domain"},
		{name: "component short secret", doc: "[[components.external]]\ndomain = 'gw.localhost'\nsecret = 'short'", wantErr: "the secret of gw.localhost must be at least 8 characters"},
		{name: "component bad domain", doc: "[[components.external]]\ndomain = 'a b'\nsecret = 'long enough'", wantErr: "components.external: \"a b\" is not a valid domain"},
		{name: "acme for the hosts without files", doc: "hosts = ['example.org', 'chat.example.net']\n[[tls.certificates]]\nhost = 'chat.example.net'\ncert = 'c'\nkey = 'k'\n[acme]\nenabled = true\nemail = 'admin@example.org'", check: func(t *testing.T, c Config) {
			if d := c.ACME.DomainsOr(c.Hosts, c.TLS.Certificates); len(d) != 1 || d[0] != "example.org" || c.ACME.HTTPListen != ":80" {
				t.Errorf("acme domains %v on %q, want example.org on :80", d, c.ACME.HTTPListen)
			}
		}},
		{name: "acme for localhost", doc: "[acme]\nenabled = true", wantErr: `acme: "localhost" is not a public DNS name`},
		{name: "acme for an address", doc: "[acme]\nenabled = true\ndomains = ['192.0.2.1']", wantErr: "is not a public DNS name"},
		{name: "acme for a wildcard", doc: "[acme]\nenabled = true\ndomains = ['*.example.org']", wantErr: "is not a public DNS name"},
		{name: "acme and files", doc: "hosts = ['example.org']\n[[tls.certificates]]\nhost = 'example.org'\ncert = 'c'\nkey = 'k'\n[acme]\nenabled = true\ndomains = ['example.org']", wantErr: "also has tls.certificates files"},
		{name: "s2s direct TLS alone", doc: "[s2s]\nlisten_tls = ':5270'", wantErr: "s2s.listen_tls: federation is off"},
		{name: "acme unicode", doc: "[acme]\nenabled = true\ndomains = ['bücher.example']", wantErr: "must be written in ASCII"},
		{name: "acme challenge", doc: "hosts = ['example.org']\n[acme]\nenabled = true\nchallenge = 'dns-01'", wantErr: "is not http-01 or tls-alpn-01"},
		{name: "acme tls-alpn-01 without a TLS listener", doc: "hosts = ['example.org']\n[c2s]\nlisten_tls = ''\n[http]\nlisten_tls = ''\n[acme]\nenabled = true\nchallenge = 'tls-alpn-01'", wantErr: "set one, reachable on port 443"},
		{name: "acme twice", doc: "[acme]\nenabled = true\ndomains = ['Example.org', 'example.org.']", wantErr: "listed twice"},
		{name: "acme over http", doc: "hosts = ['example.org']\n[acme]\nenabled = true\ndirectory = 'http://ca.example/dir'", wantErr: "must be an https URL"},
		{name: "acme off ignores localhost", doc: "[acme]\nemail = 'x'", check: func(t *testing.T, c Config) {}},
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
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestExampleFileIsValid(t *testing.T) {
	c, err := Load("../xmppd.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The example shows the defaults.
	if c.MUC != Default().MUC {
		t.Errorf("the example's [muc] is %+v, the defaults %+v", c.MUC, Default().MUC)
	}
}

// The configuration docs/deploy.md shows is valid.
func TestDeployGuideConfigIsValid(t *testing.T) {
	guide, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(guide), "```toml\n")
	doc, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("docs/deploy.md has no TOML block")
	}
	c, err := Parse(doc)
	if err != nil {
		t.Fatalf("docs/deploy.md's configuration: %v", err)
	}
	if !c.ACME.Enabled || c.S2S.ListenTLS == "" {
		t.Errorf("the guide's configuration lost its point: %+v", c)
	}
}

// Relative paths in a configuration file are relative to the file's
// directory, not to wherever xmppd runs; so is the default data_dir.
// Without a file they stay relative to the working directory.
func TestLoadResolvesRelativePathsBesideTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xmppd.toml")
	doc := `data_dir = "state"
[[tls.certificates]]
host = "localhost"
cert = "certs/localhost.crt"
key = "/etc/keys/localhost.key"
[s2s]
ca_file = "roots.pem"
[acme]
ca_file = "acme/roots.pem"
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ setting, got, want string }{
		{"data_dir", c.DataDir, filepath.Join(dir, "state")},
		{"tls.certificates cert", c.TLS.Certificates[0].Cert, filepath.Join(dir, "certs/localhost.crt")},
		{"tls.certificates key", c.TLS.Certificates[0].Key, "/etc/keys/localhost.key"},
		{"s2s.ca_file", c.S2S.CAFile, filepath.Join(dir, "roots.pem")},
		{"acme.ca_file", c.ACME.CAFile, filepath.Join(dir, "acme/roots.pem")},
	} {
		if p.got != p.want {
			t.Errorf("%s = %q; want %q", p.setting, p.got, p.want)
		}
	}

	if err := os.WriteFile(path, []byte("log_level = 'warn'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(path); err != nil || c.DataDir != filepath.Join(dir, "data") || c.S2S.CAFile != "" {
		t.Errorf("the default data_dir with a file = %q (s2s.ca_file %q), %v; want %q beside the file", c.DataDir, c.S2S.CAFile, err, filepath.Join(dir, "data"))
	}
	if c, err := Load(""); err != nil || c.DataDir != "data" {
		t.Errorf("the default data_dir without a file = %q, %v; want data", c.DataDir, err)
	}
}
