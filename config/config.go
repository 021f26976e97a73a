// Package config reads xmppd's configuration file (TOML): virtual hosts,
// listeners, TLS certificates, the database, limits, multi-user chat and
// logging. Every field
// has a default, so an empty file (or none) serves "localhost".
package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/net/idna"
	"mellium.im/xmpp/jid"
)

// Config is the whole configuration of one xmppd node.
type Config struct {
	// Hosts are the virtual hosts (XMPP domains) this server serves.
	Hosts []string `toml:"hosts"`
	// DataDir holds generated certificates and the private PostgreSQL.
	DataDir string `toml:"data_dir"`
	// formerDataDir is FormerDataDir's answer.
	formerDataDir string
	// LogLevel is one of debug, info, warn, error.
	LogLevel string `toml:"log_level"`
	// Admins are the bare JIDs of the server's administrators, who may
	// run the service administration commands (XEP-0133).
	Admins []string `toml:"admins"`

	Database Database `toml:"database"`
	TLS      TLS      `toml:"tls"`
	ACME     ACME     `toml:"acme"`
	C2S      C2S      `toml:"c2s"`
	S2S      S2S      `toml:"s2s"`
	Cluster  Cluster  `toml:"cluster"`
	HTTP     HTTP     `toml:"http"`
	Limits   Limits   `toml:"limits"`

	Offline Offline `toml:"offline"`
	Archive Archive `toml:"archive"`
	Roster  Roster  `toml:"roster"`
	VCard   VCard   `toml:"vcard"`
	PEP     PEP     `toml:"pep"`
	Upload  Upload  `toml:"upload"`
	Push    Push    `toml:"push"`
	// ExternalServices are the STUN and TURN servers announced to clients
	// (XEP-0215), for audio and video calls.
	ExternalServices []ExternalService `toml:"external_services"`
	Registration     Registration      `toml:"registration"`
	MUC              MUC               `toml:"muc"`
	Components       Components        `toml:"components"`
	Metrics          Metrics           `toml:"metrics"`
	Proxy65          Proxy65           `toml:"proxy65"`
	// Contact are the addresses to reach the server's operators,
	// announced to everyone (XEP-0157).
	Contact Contact `toml:"contact"`
}

// Metrics configures the figures served for monitoring.
type Metrics struct {
	// Listen is where /metrics is served, in Prometheus's text format,
	// over plain HTTP; empty, the default, serves nothing. Keep it on
	// loopback or a private network.
	Listen string `toml:"listen"`
}

// Proxy65 configures the SOCKS5 bytestreams proxy (XEP-0065) on
// proxy.<host>, which clients' file transfers fall back on when neither
// party can reach the other.
type Proxy65 struct {
	// Listen is the relay's TCP address; empty, the default, turns the
	// proxy off.
	Listen string `toml:"listen"`
	// PublicHost and PublicPort are where clients connect to the relay:
	// by default the XMPP host's own name and the listener's port.
	PublicHost string `toml:"public_host"`
	PublicPort int    `toml:"public_port"`
}

// Contact lists the URIs (xmpp:, mailto:, https: ...) to reach the
// people behind the server, by purpose (XEP-0157).
type Contact struct {
	Abuse    []string `toml:"abuse"`
	Admin    []string `toml:"admin"`
	Feedback []string `toml:"feedback"`
	Sales    []string `toml:"sales"`
	Security []string `toml:"security"`
	Status   []string `toml:"status"`
	Support  []string `toml:"support"`
	// OutageStatus are http(s) URLs of a JSON file describing outages,
	// kept somewhere else than this server (XEP-0455), which clients
	// fetch when the server is unreachable.
	OutageStatus []string `toml:"outage_status"`
}

// Fields returns the addresses by XEP-0157 field name, leaving out the
// purposes without any.
func (c Contact) Fields() map[string][]string {
	all := map[string][]string{"abuse-addresses": c.Abuse, "admin-addresses": c.Admin, "feedback-addresses": c.Feedback,
		"sales-addresses": c.Sales, "security-addresses": c.Security, "status-addresses": c.Status, "support-addresses": c.Support}
	for k, v := range all {
		if len(v) == 0 {
			delete(all, k)
		}
	}
	return all
}

// Components configures external components (XEP-0114): programs such as
// gateways and bots that connect to the server and serve a domain of
// their own.
type Components struct {
	// Listen is the address components connect to; "" accepts none. The
	// default, 127.0.0.1:5347, takes only components on this machine: the
	// protocol has no encryption.
	Listen string `toml:"listen"`
	// External are the components the server accepts, one per domain.
	External []ExternalComponent `toml:"external"`
}

// ExternalComponent is one component's domain and the secret it proves
// it knows in its handshake.
type ExternalComponent struct {
	Domain string `toml:"domain"`
	Secret string `toml:"secret"`
	// Privileges let the component act in the name of the server's
	// accounts (XEP-0356), as gateways such as Slidge use.
	Privileges Privileges `toml:"privileges"`
}

// nsPrivilege is XEP-0356's namespace, which no component may be
// granted IQs of.
const nsPrivilege = "urn:xmpp:privilege:2"

// Privileges are what a component may do in the name of the server's
// accounts (XEP-0356); none by default.
type Privileges struct {
	// Roster is "none", "get", "set" or "both": reading, changing, or
	// both, any account's roster.
	Roster string `toml:"roster"`
	// Message is "none" or "outgoing": sending messages in the name of
	// the server or of any account.
	Message string `toml:"message"`
	// IQ maps namespaces to "get", "set" or "both": sending IQs of that
	// type whose payload is in that namespace in the name of any account,
	// such as "http://jabber.org/protocol/pubsub" for its PEP nodes.
	IQ map[string]string `toml:"iq"`
	// RosterPush, with roster "get" or "both", sends the component every
	// account's roster pushes (XEP-0356 §4.2); on unless set false.
	RosterPush *bool `toml:"roster_push"`
}

// MUC configures the multi-user chat service (XEP-0045) on
// conference.<host> of every host.
type MUC struct {
	// FloodRate is how many messages per second one occupant may send to
	// a room (groupchat and private messages, chat states included,
	// invitations and voice requests) in the long run; 0, the default, sets no limit. Beyond it a message is
	// refused with resource-constraint.
	FloodRate float64 `toml:"flood_rate"`
	// FloodBurst is how many messages an occupant may send at once after
	// being quiet, when FloodRate is set.
	FloodBurst int `toml:"flood_burst"`
	// MaxOwnedRooms is how many persistent rooms one user may own;
	// making one more persistent is refused with policy-violation.
	MaxOwnedRooms int `toml:"max_owned_rooms"`
}

// Offline bounds offline message storage (XEP-0160).
type Offline struct {
	// Quota is the most messages kept for one account while it is offline.
	Quota int `toml:"quota"`
}

// Archive configures message archives (XEP-0313).
type Archive struct {
	// Enabled archives one-to-one messages and answers archive queries;
	// false keeps no history of them on the server (no XEP-0313 for
	// accounts, no XEP-0359 stanza ids). Room archives are the rooms'.
	Enabled bool `toml:"enabled"`
	// RetentionDays deletes archived messages older than this many days;
	// 0 keeps them forever.
	RetentionDays int `toml:"retention_days"`
	// MaxPage is the most messages one query page returns, whatever the
	// client asks for.
	MaxPage int `toml:"max_page"`
}

// Roster bounds contact lists (RFC 6121).
type Roster struct {
	// MaxItems is the most contacts one roster may hold, and the most
	// subscription requests that may wait for one account's answer.
	MaxItems int `toml:"max_items"`
}

// VCard bounds profiles (XEP-0054).
type VCard struct {
	// MaxBytes is the largest vCard stored, of an account or of a room.
	MaxBytes int `toml:"max_bytes"`
}

// PEP bounds personal eventing (XEP-0163): the publish-subscribe nodes
// every account has, e.g. for OMEMO keys, avatars and bookmarks.
type PEP struct {
	// MaxItems is the most items one node keeps (pubsub#max_items 'max').
	MaxItems int `toml:"max_items"`
	// MaxNodes is the most nodes one account may have.
	MaxNodes int `toml:"max_nodes"`
	// MaxBytes is the most bytes of items one account may keep over all
	// its nodes.
	MaxBytes int64 `toml:"max_bytes"`
}

// Upload configures HTTP file upload (XEP-0363) on upload.<host>, served
// by the HTTP listener; the files are kept in PostgreSQL.
type Upload struct {
	// Enabled offers the service when http.listen is set; on by default.
	Enabled bool `toml:"enabled"`
	// MaxFileBytes is the largest file accepted.
	MaxFileBytes int64 `toml:"max_file_bytes"`
	// QuotaBytes is the most bytes of files one account may keep.
	QuotaBytes int64 `toml:"quota_bytes"`
	// SlotsPerDay is the most slots one account is granted in 24 hours,
	// files included: each costs a row and a large object whatever its
	// size, which the byte quota alone does not bound.
	SlotsPerDay int `toml:"slots_per_day"`
	// ExpireDays is how long files are kept; 0 keeps them forever.
	ExpireDays int `toml:"expire_days"`
}

// ExternalService is a STUN or TURN server announced to clients
// (XEP-0215).
type ExternalService struct {
	// Type is stun, turn or turns.
	Type string `toml:"type"`
	Host string `toml:"host"`
	// Port defaults to 3478 (5349 for turns).
	Port int `toml:"port"`
	// Transport is udp or tcp; it defaults to udp (tcp for turns).
	Transport string `toml:"transport"`
	Name      string `toml:"name"`
	// Secret is the TURN server's shared secret (coturn's
	// static-auth-secret); clients then get credentials made from it.
	Secret string `toml:"secret"`
	// TTLSeconds is how long such credentials last; 86400 by default.
	TTLSeconds int `toml:"ttl_seconds"`
}

// Registration configures in-band registration (XEP-0077).
type Registration struct {
	// Enabled lets clients create accounts; off by default.
	Enabled bool `toml:"enabled"`
	// RequireInvite accepts a registration only with a token made by
	// `xmppd invite create`.
	RequireInvite bool `toml:"require_invite"`
	// PerAddressPerHour bounds registrations from one IP address.
	PerAddressPerHour int `toml:"per_address_per_hour"`
}

// Database says where PostgreSQL is.
type Database struct {
	// URL is a PostgreSQL connection URL. Empty: xmppd runs a private
	// PostgreSQL under DataDir/postgres.
	URL string `toml:"url"`
}

// TLS lists certificate files per host. Hosts without an entry get a
// self-signed certificate kept in DataDir/certs.
type TLS struct {
	Certificates []Certificate `toml:"certificates"`
}

// Certificate names the PEM files of one host.
type Certificate struct {
	Host string `toml:"host"`
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// ACME configures certificates obtained and renewed automatically from an
// ACME certificate authority such as Let's Encrypt.
type ACME struct {
	// Enabled turns it on; using the authority means agreeing to its terms.
	Enabled bool `toml:"enabled"`
	// Email is the contact given to the authority; optional.
	Email string `toml:"email"`
	// Directory is the authority's directory URL; empty is Let's Encrypt.
	Directory string `toml:"directory"`
	// Domains get a certificate each; empty means every host without
	// tls.certificates files.
	Domains []string `toml:"domains"`
	// Challenge is how control of the domains is proved: "http-01" (the
	// default; port 80) or "tls-alpn-01" (port 443, which must reach
	// c2s.listen_tls or http.listen_tls).
	Challenge string `toml:"challenge"`
	// HTTPListen is the plain HTTP listener on which the authority fetches
	// the challenge answers (port 80 of each domain must reach it); empty
	// leaves them to the http listeners, for a proxy that forwards
	// /.well-known/acme-challenge/ there. Not opened for tls-alpn-01.
	HTTPListen string `toml:"http_listen"`
	// CAFile holds PEM roots to trust for the directory's HTTPS, besides
	// the system's (a private authority).
	CAFile string `toml:"ca_file"`
}

// DomainsOr returns the configured domains, or else every host that has
// no certificate files.
func (a ACME) DomainsOr(hosts []string, files []Certificate) []string {
	if len(a.Domains) > 0 {
		return a.Domains
	}
	var domains []string
	for _, h := range hosts {
		if !slices.ContainsFunc(files, func(c Certificate) bool { return strings.EqualFold(c.Host, h) }) {
			domains = append(domains, h)
		}
	}
	return domains
}

// C2S configures client-to-server listeners.
type C2S struct {
	// Listen is the STARTTLS listener (RFC 6120); empty disables it.
	Listen string `toml:"listen"`
	// ListenTLS is the direct TLS listener (XEP-0368); empty disables it.
	ListenTLS string `toml:"listen_tls"`
	// RequireTLS refuses authentication before STARTTLS.
	RequireTLS bool `toml:"require_tls"`
	// ResumeSeconds is how long a stream-managed session (XEP-0198) whose
	// connection was lost waits to be resumed; 0 disables resumption.
	ResumeSeconds int `toml:"resume_seconds"`
	// SCRAMHashes are the hashes of the SCRAM mechanisms offered
	// ("SHA-1", "SHA-256", "SHA-512"); empty offers all. Accounts
	// imported with credentials of one hash need that one alone.
	SCRAMHashes []string `toml:"scram_hashes"`
	// ParkAfter is how long a bound TCP session waits for its client's
	// next element before it parks its reader (c2s/park.go); 0 means
	// c2s's default. Not a setting: tests shorten it.
	ParkAfter time.Duration `toml:"-"`
}

// S2S configures federation with other XMPP servers (RFC 6120 server
// streams, authenticated by certificate or with dialback).
type S2S struct {
	// Listen is the listener for other servers' streams, normally
	// ":5269"; empty disables federation in both directions (dialback
	// needs the remote server to reach this one).
	Listen string `toml:"listen"`
	// ListenTLS is the listener for other servers' streams over direct
	// TLS (XEP-0368), normally ":5270", found through _xmpps-server._tcp
	// SRV records; empty disables it. Needs Listen.
	ListenTLS string `toml:"listen_tls"`
	// RequireTLS refuses streams that are not encrypted, both ways.
	RequireTLS bool `toml:"require_tls"`
	// Routes maps remote domains to "host:port", used instead of their
	// DNS SRV records: for private federations and tests.
	Routes map[string]string `toml:"routes"`
	// IdleSeconds closes an outgoing stream that carried nothing for this
	// long.
	IdleSeconds int `toml:"idle_seconds"`
	// SecureAuth refuses servers whose certificates cannot be verified,
	// instead of authenticating them with dialback; it needs require_tls.
	SecureAuth bool `toml:"secure_auth"`
	// CAFile is a PEM file of certificate authorities trusted for other
	// servers' certificates besides the system's.
	CAFile string `toml:"ca_file"`
}

// Cluster joins this node with the others that share its database into
// one server, through NATS.
type Cluster struct {
	// NATS is the NATS server's URL, such as nats://127.0.0.1:4222;
	// empty runs the node alone.
	NATS string `toml:"nats"`
	// Subject prefixes the cluster's NATS subjects: the nodes of one
	// cluster share it, and two clusters on one NATS need different ones.
	Subject string `toml:"subject"`
	// HeartbeatMS is how often, in milliseconds, a node announces itself.
	HeartbeatMS int `toml:"heartbeat_ms"`
	// TimeoutMS is how long, in milliseconds, a node may stay silent
	// before the others count it, and its sessions, as gone.
	TimeoutMS int `toml:"timeout_ms"`
}

// Push configures push notifications (XEP-0357) to the app servers that
// mobile clients register.
type Push struct {
	// Enabled offers push notifications.
	Enabled bool `toml:"enabled"`
	// IncludeSender and IncludeBody put the message's sender and text in
	// each notification, for the app server (and the phone vendor's push
	// service) to read; off by default.
	IncludeSender bool `toml:"include_sender"`
	IncludeBody   bool `toml:"include_body"`
}

// HTTP configures the HTTP listeners that carry XMPP over WebSocket
// (RFC 7395), host-meta discovery (XEP-0156) and uploaded files.
type HTTP struct {
	// Listen is the plain HTTP listener; empty disables it.
	Listen string `toml:"listen"`
	// ListenTLS is the HTTPS listener, with the hosts' certificates;
	// empty disables it.
	ListenTLS string `toml:"listen_tls"`
	// WebSocketPath is the path of the WebSocket endpoint.
	WebSocketPath string `toml:"websocket_path"`
	// BOSHPath is the path of the BOSH endpoint (XEP-0206); empty
	// disables it.
	BOSHPath string `toml:"bosh_path"`
	// BOSHInactivitySeconds is how long a BOSH client may leave the
	// server without a request before its session ends.
	BOSHInactivitySeconds int `toml:"bosh_inactivity_seconds"`
	// BehindTLSProxy marks WebSocket and BOSH connections as encrypted
	// because a reverse proxy in front terminates TLS.
	BehindTLSProxy bool `toml:"behind_tls_proxy"`
	// PublicURL is the base URL announced in host-meta (e.g.
	// "https://chat.example.com"); empty derives it from the request's
	// Host header when that names a served domain or a listener's host,
	// and uses the first domain otherwise.
	PublicURL string `toml:"public_url"`
	// TrustedProxies are the addresses (or CIDR ranges) of reverse
	// proxies whose X-Forwarded-For header names the client of a
	// WebSocket or BOSH session, for its per-address limits and logs.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// TrustedProxyPrefixes returns TrustedProxies parsed, a single address
// as a range of one; Validate reports the entries that do not parse.
func (h HTTP) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("http.trusted_proxies: %q is neither an IP address nor a CIDR range", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Enabled reports whether either HTTP listener is configured.
func (h HTTP) Enabled() bool { return h.Listen != "" || h.ListenTLS != "" }

// MaxNegotiationSeconds bounds limits.negotiation_seconds: a stream that
// logged in must bind while a password change that voids its login is
// remembered (15 minutes).
const MaxNegotiationSeconds = 600

// Limits bound what one peer may make the server do.
type Limits struct {
	// MaxStanzaBytes is the largest stanza accepted (policy-violation above).
	MaxStanzaBytes int `toml:"max_stanza_bytes"`
	// MaxDepth is the deepest element nesting accepted.
	MaxDepth int `toml:"max_depth"`
	// SessionQueue is how many stanzas may wait for one slow client before
	// its session is closed.
	SessionQueue int `toml:"session_queue"`
	// NegotiationSeconds bounds the time from connect to resource
	// binding, at most MaxNegotiationSeconds.
	NegotiationSeconds int `toml:"negotiation_seconds"`
	// NegotiatingPerAddress bounds the client streams from one address
	// (loopback excepted) that have not bound a resource yet. 0: no
	// bound.
	NegotiatingPerAddress int `toml:"negotiating_per_address"`
	// ClientBytesPerSecond is how fast a logged-in client may send, with
	// bursts of four seconds' worth: reading from a client over it
	// pauses, so one client cannot flood the server. 0: no limit.
	ClientBytesPerSecond int `toml:"client_bytes_per_second"`
	// ServerBytesPerSecond is the same for each stream another server
	// opened to this one (federation). 0: no limit.
	ServerBytesPerSecond int `toml:"server_bytes_per_second"`
	// ServerNegotiatingPerAddress bounds the streams other servers open
	// from one address that have not authenticated a domain yet. 0: no
	// bound.
	ServerNegotiatingPerAddress int `toml:"server_negotiating_per_address"`
	// ServerOutgoingStreams bounds the streams this server opens to
	// other servers at once (one per pair of a local and a remote
	// domain); a stanza that would need one more is bounced with
	// resource-constraint. 0: no bound.
	ServerOutgoingStreams int `toml:"server_outgoing_streams"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Hosts:    []string{"localhost"},
		DataDir:  "data",
		LogLevel: "info",
		C2S: C2S{
			Listen:        ":5222",
			ListenTLS:     ":5223",
			RequireTLS:    true,
			ResumeSeconds: 300,
		},
		S2S:     S2S{RequireTLS: true, IdleSeconds: 300},
		Cluster: Cluster{Subject: "xmppd", HeartbeatMS: 1000, TimeoutMS: 5000},
		HTTP: HTTP{
			Listen:                ":5280",
			ListenTLS:             ":5281",
			WebSocketPath:         "/xmpp-websocket",
			BOSHPath:              "/http-bind",
			BOSHInactivitySeconds: 60,
			TrustedProxies:        []string{"127.0.0.1", "::1"},
		},
		Limits: Limits{
			MaxStanzaBytes:              256 << 10,
			MaxDepth:                    32,
			SessionQueue:                2000,
			NegotiationSeconds:          60,
			NegotiatingPerAddress:       64,
			ClientBytesPerSecond:        20000,
			ServerBytesPerSecond:        100000,
			ServerNegotiatingPerAddress: 64,
			ServerOutgoingStreams:       1000,
		},
		Offline:      Offline{Quota: 1000},
		Archive:      Archive{Enabled: true, MaxPage: 250},
		Roster:       Roster{MaxItems: 1000},
		VCard:        VCard{MaxBytes: 64 << 10},
		PEP:          PEP{MaxItems: 256, MaxNodes: 256, MaxBytes: 16 << 20},
		Upload:       Upload{Enabled: true, MaxFileBytes: 10 << 20, QuotaBytes: 1 << 30, SlotsPerDay: 1000, ExpireDays: 30},
		Push:         Push{Enabled: true},
		Registration: Registration{PerAddressPerHour: 5},
		MUC:          MUC{FloodRate: 0, FloodBurst: 20, MaxOwnedRooms: 100},
		Components:   Components{Listen: "127.0.0.1:5347"},
		ACME:         ACME{HTTPListen: ":80"},
	}
}

// Load reads the TOML file at path on top of the defaults. An empty path
// returns the defaults. Relative paths in the file, and the default
// data_dir, are taken relative to the file's directory (resolvePaths).
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	if cfg, err = Parse(string(data)); err != nil {
		return cfg, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	cfg.resolvePaths(dir)
	return cfg, nil
}

// resolvePaths makes the relative file and directory paths of c relative
// to dir, the configuration file's directory: a command such as `xmppd
// -c /etc/xmppd/xmppd.toml user add` run from elsewhere must find the
// server's data_dir, not make a new one where it runs.
func (c *Config) resolvePaths(dir string) {
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		if wd, err := filepath.Abs(c.DataDir); err == nil && wd != filepath.Join(dir, c.DataDir) {
			c.formerDataDir = wd
		}
	}
	resolve(&c.DataDir)
	for i := range c.TLS.Certificates {
		resolve(&c.TLS.Certificates[i].Cert)
		resolve(&c.TLS.Certificates[i].Key)
	}
	resolve(&c.S2S.CAFile)
	resolve(&c.ACME.CAFile)
}

// FormerDataDir returns where data_dir was before relative paths were
// taken relative to the configuration file (relative to the working
// directory), when that differs from DataDir; "" otherwise.
func (c Config) FormerDataDir() string { return c.formerDataDir }

// Parse reads a TOML document on top of the defaults and validates it.
func Parse(doc string) (Config, error) {
	cfg := Default()
	md, err := toml.Decode(doc, &cfg)
	if err != nil {
		return cfg, fmt.Errorf("parsing config: %w", err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return cfg, fmt.Errorf("parsing config: unknown settings: %s", strings.Join(keys, ", "))
	}
	return cfg, cfg.Validate()
}

// Validate checks the configuration and normalises host names.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Hosts) == 0 {
		errs = append(errs, errors.New("hosts: at least one host is required"))
	}
	seen := map[string]bool{}
	for i, h := range c.Hosts {
		d, err := normalDomain(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("hosts: %q is not a valid domain: %v", h, err))
			continue
		}
		c.Hosts[i] = d
		if seen[c.Hosts[i]] {
			errs = append(errs, fmt.Errorf("hosts: %q is listed twice", h))
		}
		seen[c.Hosts[i]] = true
	}
	for i, cert := range c.TLS.Certificates {
		// Named as the hosts are, so that each finds its files.
		if j, err := jid.New("", cert.Host, ""); err == nil {
			cert.Host = j.Domainpart()
		} else {
			cert.Host = strings.TrimSuffix(strings.ToLower(cert.Host), ".")
		}
		c.TLS.Certificates[i].Host = cert.Host
		if !seen[cert.Host] && !strings.HasPrefix(cert.Host, "*.") {
			errs = append(errs, fmt.Errorf("tls.certificates: host %q is not in hosts", cert.Host))
		}
		if cert.Cert == "" || cert.Key == "" {
			errs = append(errs, fmt.Errorf("tls.certificates: host %q needs both cert and key", cert.Host))
		}
	}
	errs = append(errs, c.validateACME()...)
	if u := c.HTTP.PublicURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil {
			errs = append(errs, fmt.Errorf("http.public_url: %q is not the http(s) URL clients reach the http listeners at, such as https://chat.example.org (without query or fragment)", u))
		}
	}
	if _, err := c.HTTP.TrustedProxyPrefixes(); err != nil {
		errs = append(errs, err)
	}
	for _, u := range c.Contact.OutageStatus {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			errs = append(errs, fmt.Errorf("contact.outage_status: %q is not an http(s) URL", u))
		}
	}
	for field, uris := range c.Contact.Fields() {
		for _, u := range uris {
			if scheme, rest, ok := strings.Cut(u, ":"); !ok || scheme == "" || rest == "" || strings.ContainsAny(scheme, " /") {
				errs = append(errs, fmt.Errorf("contact.%s: %q is not a URI such as xmpp:admin@example.org or mailto:admin@example.org",
					strings.TrimSuffix(field, "-addresses"), u))
			}
		}
	}
	for i, a := range c.Admins {
		j, err := jid.Parse(a)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
			errs = append(errs, fmt.Errorf("admins: %q is not the bare JID of an account", a))
			continue
		}
		c.Admins[i] = j.String()
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q is not one of debug, info, warn, error", c.LogLevel))
	}
	errs = append(errs, c.checkListeners()...)
	if c.Proxy65.PublicPort < 0 || c.Proxy65.PublicPort > 65535 {
		errs = append(errs, fmt.Errorf("proxy65.public_port: %d is not a port", c.Proxy65.PublicPort))
	}
	// Looked up by domainpart, as hosts are named.
	routes := make(map[string]string, len(c.S2S.Routes))
	for domain, addr := range c.S2S.Routes {
		d, err := normalDomain(domain)
		if err != nil {
			errs = append(errs, fmt.Errorf("s2s.routes: %q is not a valid domain: %v", domain, err))
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("s2s.routes: %q for %s is not host:port: %v", addr, domain, err))
		}
		if seen[d] {
			errs = append(errs, fmt.Errorf("s2s.routes: %s is a local host", domain))
		}
		if _, ok := routes[d]; ok {
			errs = append(errs, fmt.Errorf("s2s.routes: %s is listed twice", d))
		}
		routes[d] = addr
	}
	if c.S2S.Routes != nil {
		c.S2S.Routes = routes
	}
	if c.Cluster.HeartbeatMS < 1 || c.Cluster.TimeoutMS <= c.Cluster.HeartbeatMS {
		errs = append(errs, fmt.Errorf("cluster: heartbeat_ms %d must be positive and below timeout_ms %d", c.Cluster.HeartbeatMS, c.Cluster.TimeoutMS))
	}
	if c.Cluster.NATS != "" && c.Database.URL == "" {
		errs = append(errs, errors.New("cluster.nats: the nodes of a cluster share one database: set database.url"))
	}
	if c.Cluster.NATS != "" && (c.Cluster.Subject == "" || strings.ContainsAny(c.Cluster.Subject, " *>")) {
		errs = append(errs, fmt.Errorf("cluster.subject: %q must be a NATS subject without wildcards", c.Cluster.Subject))
	}
	for i, h := range c.C2S.SCRAMHashes {
		if !slices.Contains([]string{"SHA-1", "SHA-256", "SHA-512"}, h) || slices.Contains(c.C2S.SCRAMHashes[:i], h) {
			errs = append(errs, fmt.Errorf("c2s.scram_hashes: %q: each must be one of SHA-1, SHA-256 and SHA-512, once", h))
		}
	}
	if c.S2S.SecureAuth && !c.S2S.RequireTLS {
		errs = append(errs, errors.New("s2s.secure_auth: certificates need encrypted streams: set s2s.require_tls"))
	}
	if c.S2S.ListenTLS != "" && c.S2S.Listen == "" {
		errs = append(errs, errors.New("s2s.listen_tls: federation is off without s2s.listen (dialback needs it): set both"))
	}
	if c.S2S.IdleSeconds < 1 {
		errs = append(errs, fmt.Errorf("s2s.idle_seconds: %d must be positive", c.S2S.IdleSeconds))
	}
	if c.C2S.Listen == "" && c.C2S.ListenTLS == "" && !c.HTTP.Enabled() {
		errs = append(errs, errors.New("no listener: set c2s.listen, c2s.listen_tls, http.listen or http.listen_tls"))
	}
	if !strings.HasPrefix(c.HTTP.WebSocketPath, "/") {
		errs = append(errs, fmt.Errorf("http.websocket_path: %q must start with /", c.HTTP.WebSocketPath))
	}
	if c.HTTP.BOSHPath != "" && (!strings.HasPrefix(c.HTTP.BOSHPath, "/") || c.HTTP.BOSHPath == c.HTTP.WebSocketPath) {
		errs = append(errs, fmt.Errorf("http.bosh_path: %q must start with / and differ from http.websocket_path", c.HTTP.BOSHPath))
	}
	if c.HTTP.BOSHInactivitySeconds < 1 {
		errs = append(errs, fmt.Errorf("http.bosh_inactivity_seconds: %d must be positive", c.HTTP.BOSHInactivitySeconds))
	}
	if c.Limits.MaxStanzaBytes < 10<<10 {
		errs = append(errs, fmt.Errorf("limits.max_stanza_bytes: %d is below the RFC 6120 minimum of 10000", c.Limits.MaxStanzaBytes))
	}
	if c.Limits.MaxDepth < 4 {
		errs = append(errs, fmt.Errorf("limits.max_depth: %d is too small", c.Limits.MaxDepth))
	}
	if c.Limits.SessionQueue < 1 {
		errs = append(errs, fmt.Errorf("limits.session_queue: %d must be positive", c.Limits.SessionQueue))
	}
	if c.Limits.ClientBytesPerSecond < 0 {
		errs = append(errs, fmt.Errorf("limits.client_bytes_per_second: %d must not be negative (0: no limit)", c.Limits.ClientBytesPerSecond))
	}
	if c.Limits.ServerBytesPerSecond < 0 {
		errs = append(errs, fmt.Errorf("limits.server_bytes_per_second: %d must not be negative (0: no limit)", c.Limits.ServerBytesPerSecond))
	}
	if c.Limits.ServerNegotiatingPerAddress < 0 {
		errs = append(errs, fmt.Errorf("limits.server_negotiating_per_address: %d must not be negative (0: no limit)", c.Limits.ServerNegotiatingPerAddress))
	}
	if c.Limits.ServerOutgoingStreams < 0 {
		errs = append(errs, fmt.Errorf("limits.server_outgoing_streams: %d must not be negative (0: no limit)", c.Limits.ServerOutgoingStreams))
	}
	if c.Limits.NegotiatingPerAddress < 0 {
		errs = append(errs, fmt.Errorf("limits.negotiating_per_address: %d must not be negative", c.Limits.NegotiatingPerAddress))
	}
	if c.Limits.NegotiationSeconds < 1 || c.Limits.NegotiationSeconds > MaxNegotiationSeconds {
		// A password change voids the logins of streams still negotiating
		// for as long as the router remembers it (router.revokedFor).
		errs = append(errs, fmt.Errorf("limits.negotiation_seconds: %d must be from 1 to %d", c.Limits.NegotiationSeconds, MaxNegotiationSeconds))
	}
	if c.Offline.Quota < 1 {
		errs = append(errs, fmt.Errorf("offline.quota: %d must be positive", c.Offline.Quota))
	}
	if c.Limits.SessionQueue < c.Offline.Quota+100 {
		// A session coming online takes all its offline messages at once.
		errs = append(errs, fmt.Errorf("limits.session_queue: %d must exceed offline.quota (%d) by at least 100, so that a full offline store fits a new session's queue", c.Limits.SessionQueue, c.Offline.Quota))
	}
	if c.Archive.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("archive.retention_days: %d must not be negative", c.Archive.RetentionDays))
	}
	if c.Archive.MaxPage < 1 {
		errs = append(errs, fmt.Errorf("archive.max_page: %d must be positive", c.Archive.MaxPage))
	}
	if c.Roster.MaxItems < 1 {
		errs = append(errs, fmt.Errorf("roster.max_items: %d must be positive", c.Roster.MaxItems))
	}
	if c.VCard.MaxBytes < 1024 {
		errs = append(errs, fmt.Errorf("vcard.max_bytes: %d is below 1024", c.VCard.MaxBytes))
	}
	if c.PEP.MaxItems < 1 {
		errs = append(errs, fmt.Errorf("pep.max_items: %d must be positive", c.PEP.MaxItems))
	}
	if c.PEP.MaxBytes < 1024 {
		errs = append(errs, fmt.Errorf("pep.max_bytes: %d is below 1024", c.PEP.MaxBytes))
	}
	if c.PEP.MaxNodes < 1 {
		errs = append(errs, fmt.Errorf("pep.max_nodes: %d must be positive", c.PEP.MaxNodes))
	}
	if c.Upload.MaxFileBytes < 1 || c.Upload.QuotaBytes < c.Upload.MaxFileBytes {
		errs = append(errs, fmt.Errorf("upload: max_file_bytes (%d) must be positive and at most quota_bytes (%d)", c.Upload.MaxFileBytes, c.Upload.QuotaBytes))
	}
	if c.Upload.SlotsPerDay < 1 {
		errs = append(errs, fmt.Errorf("upload.slots_per_day: %d must be positive", c.Upload.SlotsPerDay))
	}
	if c.Upload.ExpireDays < 0 {
		errs = append(errs, fmt.Errorf("upload.expire_days: %d must not be negative", c.Upload.ExpireDays))
	}
	for i, es := range c.ExternalServices {
		if err := es.WithDefaults().check(); err != nil {
			errs = append(errs, fmt.Errorf("external_services[%d]: %w", i, err))
		}
	}
	errs = append(errs, c.checkComponents(seen)...)
	if c.Registration.RequireInvite && !c.Registration.Enabled {
		errs = append(errs, errors.New("registration.require_invite: invitations are for in-band registration, which is off: set registration.enabled = true as well (only invited people can then register), or remove require_invite"))
	}
	if c.Registration.PerAddressPerHour < 1 {
		errs = append(errs, fmt.Errorf("registration.per_address_per_hour: %d must be positive", c.Registration.PerAddressPerHour))
	}
	if c.MUC.FloodRate < 0 || math.IsNaN(c.MUC.FloodRate) || math.IsInf(c.MUC.FloodRate, 0) {
		errs = append(errs, fmt.Errorf("muc.flood_rate: %g must be 0 (no limit) or a positive number of messages per second", c.MUC.FloodRate))
	}
	if c.MUC.FloodBurst < 0 {
		errs = append(errs, fmt.Errorf("muc.flood_burst: %d must not be negative", c.MUC.FloodBurst))
	} else if c.MUC.FloodBurst == 0 && c.MUC.FloodRate > 0 {
		errs = append(errs, errors.New("muc.flood_burst: must be at least 1 when muc.flood_rate is set (set flood_rate = 0 for no limit)"))
	}
	if c.MUC.MaxOwnedRooms < 1 {
		errs = append(errs, fmt.Errorf("muc.max_owned_rooms: %d must be positive", c.MUC.MaxOwnedRooms))
	}
	return errors.Join(errs...)
}

// listener is one configured listening address and the setting that
// names it.
type listener struct {
	setting, addr string
	opened        bool // whether the server opens it with this configuration
}

// listeners returns every listening address setting, in the order the
// settings are documented, with whether the server opens each.
func (c *Config) listeners() []listener {
	return []listener{
		{"c2s.listen", c.C2S.Listen, true},
		{"c2s.listen_tls", c.C2S.ListenTLS, true},
		{"s2s.listen", c.S2S.Listen, true},
		{"s2s.listen_tls", c.S2S.ListenTLS, c.S2S.Listen != ""},
		{"http.listen", c.HTTP.Listen, true},
		{"http.listen_tls", c.HTTP.ListenTLS, true},
		{"components.listen", c.Components.Listen, len(c.Components.External) > 0},
		{"metrics.listen", c.Metrics.Listen, true},
		{"proxy65.listen", c.Proxy65.Listen, true},
		{"acme.http_listen", c.ACME.HTTPListen, c.ACME.Enabled && c.ACME.Challenge != "tls-alpn-01"},
	}
}

// checkListeners reports listening addresses that are not host:port with
// a valid port, and two listeners the server opens on the same port of
// the same address: the second could not listen, so the server would not
// start.
func (c *Config) checkListeners() []error {
	var errs []error
	type bound struct{ setting, host string }
	byPort := map[int][]bound{}
	for _, l := range c.listeners() {
		if l.addr == "" {
			continue
		}
		host, p, err := net.SplitHostPort(l.addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port: %v", l.setting, l.addr, err))
			continue
		}
		port, err := net.LookupPort("tcp", p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q has no valid port (0 to 65535): %v", l.setting, l.addr, err))
			continue
		}
		if !l.opened || port == 0 {
			// Port 0 is a free port chosen at start, different for each.
			continue
		}
		for _, other := range byPort[port] {
			if sameAddress(host, other.host) {
				errs = append(errs, fmt.Errorf("%s: %q: %s listens there already; give each listener a port of its own", l.setting, l.addr, other.setting))
			}
		}
		byPort[port] = append(byPort[port], bound{l.setting, host})
	}
	return errs
}

// sameAddress reports whether listeners on hosts a and b of one port
// would clash: the same host, or either of them every address (empty or
// unspecified, such as 0.0.0.0 or ::).
func sameAddress(a, b string) bool {
	wildcard := func(h string) bool {
		ip, err := netip.ParseAddr(h)
		return h == "" || err == nil && ip.IsUnspecified()
	}
	return wildcard(a) || wildcard(b) || strings.EqualFold(a, b)
}

// dnsLength checks the lengths of a domain name's labels and of the name.
var dnsLength = idna.New(idna.VerifyDNSLength(true))

// normalDomain returns s as JIDs name it (lower case, without a final
// dot), or what keeps it from being a domainpart (RFC 7622 section 3.2):
// a domain name whose labels are 1 to 63 octets, 253 in all, or an IP
// address.
func normalDomain(s string) (string, error) {
	if s == "" {
		return "", errors.New("it is empty")
	}
	j, err := jid.New("", s, "")
	if err != nil {
		return "", err
	}
	d := j.Domainpart()
	if strings.HasPrefix(d, "[") {
		return d, nil // an IPv6 address, which jid checked
	}
	if _, err := dnsLength.ToASCII(d); err != nil || strings.HasSuffix(d, ".") {
		return "", errors.New("each label (between dots) must have 1 to 63 characters, and the name at most 253")
	}
	return d, nil
}

// WithDefaults returns es with the defaults of what it leaves out.
func (es ExternalService) WithDefaults() ExternalService {
	switch es.Type {
	case "stun", "turn":
		es.Port, es.Transport = cmp.Or(es.Port, 3478), cmp.Or(es.Transport, "udp")
	case "turns":
		es.Port, es.Transport = cmp.Or(es.Port, 5349), cmp.Or(es.Transport, "tcp")
	}
	es.TTLSeconds = cmp.Or(es.TTLSeconds, 86400)
	return es
}

// check reports what is wrong with es, its defaults filled in.
func (es ExternalService) check() error {
	switch {
	case es.Type != "stun" && es.Type != "turn" && es.Type != "turns":
		return fmt.Errorf("type %q is not stun, turn or turns", es.Type)
	case es.Host == "":
		return errors.New("host is empty")
	case es.Port < 1 || es.Port > 65535:
		return fmt.Errorf("port %d is not a port number", es.Port)
	case es.Transport != "udp" && es.Transport != "tcp":
		return fmt.Errorf("transport %q is not udp or tcp", es.Transport)
	case es.TTLSeconds < 0:
		return fmt.Errorf("ttl_seconds %d is negative", es.TTLSeconds)
	}
	return nil
}

// checkComponents validates the external components' domains and
// secrets: each domain is valid, listed once, and none of the server's
// own (hosts are the domains of hosts).
func (c *Config) checkComponents(hosts map[string]bool) []error {
	var errs []error
	taken := map[string]string{}
	for h := range hosts {
		taken[h] = "a host"
		taken["conference."+h] = "the multi-user chat service's"
		if c.Upload.Enabled {
			taken["upload."+h] = "the upload service's"
		}
	}
	for i := range c.Components.External {
		ec := &c.Components.External[i]
		d, err := normalDomain(ec.Domain)
		if err != nil {
			errs = append(errs, fmt.Errorf("components.external: %q is not a valid domain: %v", ec.Domain, err))
			continue
		}
		ec.Domain = d
		if what := taken[ec.Domain]; what != "" {
			errs = append(errs, fmt.Errorf("components.external: %s is %s domain", ec.Domain, what))
		}
		taken[ec.Domain] = "another component's"
		if len(ec.Secret) < 8 {
			errs = append(errs, fmt.Errorf("components.external: the secret of %s must be at least 8 characters", ec.Domain))
		}
		switch ec.Privileges.Roster {
		case "", "none", "get", "set", "both":
		default:
			errs = append(errs, fmt.Errorf("components.external: the roster privilege of %s is %q, not none, get, set or both", ec.Domain, ec.Privileges.Roster))
		}
		switch ec.Privileges.Message {
		case "", "none", "outgoing":
		default:
			errs = append(errs, fmt.Errorf("components.external: the message privilege of %s is %q, not none or outgoing", ec.Domain, ec.Privileges.Message))
		}
		for ns, typ := range ec.Privileges.IQ {
			if ns == "" || ns == nsPrivilege || (typ != "get" && typ != "set" && typ != "both") {
				errs = append(errs, fmt.Errorf("components.external: the iq privilege of %s for %q is %q: it must be get, set or both, for a namespace other than XEP-0356's", ec.Domain, ns, typ))
			}
		}
	}
	return errs
}

// validateACME checks the acme settings when they are on: every domain
// must be a public DNS name the authority can check by HTTP, and not have
// certificate files as well.
func (c *Config) validateACME() []error {
	if !c.ACME.Enabled {
		return nil
	}
	var errs []error
	for i, d := range c.ACME.Domains {
		c.ACME.Domains[i] = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	}
	domains := c.ACME.DomainsOr(c.Hosts, c.TLS.Certificates)
	if len(domains) == 0 {
		errs = append(errs, errors.New("acme.domains: every host has certificate files; list the domains to get certificates for"))
	}
	for i, d := range domains {
		if net.ParseIP(d) != nil || !strings.Contains(d, ".") || strings.ContainsAny(d, "*/: ") || d == "localhost" || strings.HasSuffix(d, ".localhost") {
			errs = append(errs, fmt.Errorf("acme: %q is not a public DNS name an ACME authority can issue a certificate for (set acme.domains, or turn acme off)", d))
		}
		if strings.ContainsFunc(d, func(r rune) bool { return r > 0x7e }) {
			errs = append(errs, fmt.Errorf("acme.domains: %q must be written in ASCII (an internationalised name as xn--...)", d))
		}
		if slices.ContainsFunc(c.TLS.Certificates, func(cert Certificate) bool { return strings.EqualFold(cert.Host, d) }) {
			errs = append(errs, fmt.Errorf("acme.domains: %q also has tls.certificates files; keep one of the two", d))
		}
		if slices.Contains(domains[:i], d) {
			errs = append(errs, fmt.Errorf("acme.domains: %q is listed twice", d))
		}
	}
	switch c.ACME.Challenge {
	case "", "http-01":
	case "tls-alpn-01":
		if c.C2S.ListenTLS == "" && c.HTTP.ListenTLS == "" {
			errs = append(errs, errors.New("acme.challenge: tls-alpn-01 is answered on c2s.listen_tls or http.listen_tls: set one, reachable on port 443"))
		}
	default:
		errs = append(errs, fmt.Errorf("acme.challenge: %q is not http-01 or tls-alpn-01", c.ACME.Challenge))
	}
	if c.ACME.Email != "" && (!strings.Contains(c.ACME.Email, "@") || strings.ContainsAny(c.ACME.Email, " :")) {
		errs = append(errs, fmt.Errorf("acme.email: %q is not an email address", c.ACME.Email))
	}
	if c.ACME.Directory != "" && !strings.HasPrefix(c.ACME.Directory, "https://") {
		errs = append(errs, fmt.Errorf("acme.directory: %q must be an https URL", c.ACME.Directory))
	}
	return errs
}
