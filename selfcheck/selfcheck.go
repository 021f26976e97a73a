// Package selfcheck looks at a deployment from the outside, as clients and
// other servers will: the DNS records that lead to it (RFC 6120 section
// 3.2, XEP-0368) and the certificates it serves. `xmppd check` prints
// what it finds, with what to do about each problem.
package selfcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"xmppd/config"
)

// Level says how much a finding matters.
type Level int

const (
	// OK is a check that passed.
	OK Level = iota
	// Warn is something that works but not for everyone, or not for long.
	Warn
	// Fail is something that keeps clients or servers out.
	Fail
)

// String returns the level as printed.
func (l Level) String() string {
	return [...]string{"ok", "warn", "FAIL"}[l]
}

// Finding is the result of one check.
type Finding struct {
	Subject string // the domain or record checked
	Level   Level
	Text    string // what was found and, for problems, what to do
}

// Config says what to check and how.
type Config struct {
	// Config is the server's configuration.
	Config config.Config
	// Resolver looks up records; nil is net.DefaultResolver.
	Resolver *net.Resolver
	// Stored returns an ACME certificate from the database (nil when
	// none); nil skips those certificates.
	Stored func(ctx context.Context, domain string) (certPEM, keyPEM []byte, err error)
	// Roots verify certificates; nil is the system's.
	Roots *x509.CertPool
	// Local are this machine's addresses; nil reads the interfaces.
	Local []netip.Addr
	// Now is the time certificates are checked at; zero is now.
	Now time.Time
}

// Run checks every host and returns the findings in order.
func Run(ctx context.Context, cfg Config) []Finding {
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.Local == nil {
		cfg.Local = localAddrs()
	}
	c := &checker{Config: cfg}
	c.acmeChallenges()
	for _, host := range cfg.Config.Hosts {
		c.dns(ctx, host)
		c.certificate(ctx, host)
		if cfg.Config.S2S.Listen != "" {
			c.rooms(ctx, host)
		}
	}
	return c.found
}

// checker collects findings.
type checker struct {
	Config
	found []Finding
}

func (c *checker) add(subject string, level Level, format string, args ...any) {
	c.found = append(c.found, Finding{Subject: subject, Level: level, Text: fmt.Sprintf(format, args...)})
}

// localAddrs returns the addresses of this machine's interfaces.
func localAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return []netip.Addr{}
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

// isLocal reports whether any of addrs is one of this machine's.
func (c *checker) isLocal(addrs []netip.Addr) bool {
	return len(c.foreign(addrs)) < len(addrs)
}

// foreign returns those of addrs that are not this machine's.
func (c *checker) foreign(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if !slices.Contains(c.Local, a) {
			out = append(out, a)
		}
	}
	return out
}

// lookupAddrs returns the addresses of name.
func (c *checker) lookupAddrs(ctx context.Context, name string) ([]netip.Addr, error) {
	addrs, err := c.Resolver.LookupNetIP(ctx, "ip", strings.TrimSuffix(name, "."))
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, err
}

// portOf returns the port of a host:port listener address, 0 when none.
func portOf(addr string) uint16 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, err := net.LookupPort("tcp", p)
	if err != nil {
		return 0
	}
	return uint16(n)
}

// certificateFor returns the leaf and chain a host's name would get from
// the configured files or the stored ACME certificate, and where it comes
// from; nil when the server would generate a self-signed one.
func (c *checker) certificateFor(ctx context.Context, name string) (*tls.Certificate, string, error) {
	for _, f := range c.Config.Config.TLS.Certificates {
		parent, wildcard := strings.CutPrefix(f.Host, "*.")
		if strings.EqualFold(f.Host, name) || wildcard && strings.EqualFold(name[strings.IndexByte(name, '.')+1:], parent) {
			pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
			return &pair, f.Cert, err
		}
	}
	acme := c.Config.Config.ACME
	if !acme.Enabled || !slices.Contains(acme.DomainsOr(c.Config.Config.Hosts, c.Config.Config.TLS.Certificates), name) {
		return nil, "", nil
	}
	if c.Stored == nil {
		return nil, "ACME", nil
	}
	certPEM, keyPEM, err := c.Stored(ctx, name)
	if err != nil || certPEM == nil {
		return nil, "ACME", err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	return &pair, "ACME", err
}
