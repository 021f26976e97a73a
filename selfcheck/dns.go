package selfcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// service is one kind of connection found through DNS.
type service struct {
	srv      string // SRV service name, e.g. "xmpp-client"
	listen   string // the listener's configured address
	fallback uint16 // the port used without an SRV record; 0: none (XEP-0368)
	who      string // who connects, for the messages
	optional bool   // its failures are warnings: the host works without it
}

// dns checks the records that lead clients and servers to host.
func (c *checker) dns(ctx context.Context, host string) {
	cfg := c.Config.Config
	for _, s := range []service{
		{"xmpp-client", cfg.C2S.Listen, 5222, "clients", false},
		{"xmpps-client", cfg.C2S.ListenTLS, 0, "clients using direct TLS", false},
		{"xmpp-server", cfg.S2S.Listen, 5269, "other servers", false},
		{"xmpps-server", cfg.S2S.ListenTLS, 0, "other servers using direct TLS", false},
	} {
		if s.listen != "" {
			c.service(ctx, host, s)
		}
	}
}

// service checks how s's users find domain: its SRV records, or else
// the domain's own address on the standard port.
func (c *checker) service(ctx context.Context, domain string, s service) {
	if s.optional {
		defer c.soften(len(c.found))
	}
	record := "_" + s.srv + "._tcp." + domain
	port := portOf(s.listen)
	_, srvs, err := c.Resolver.LookupSRV(ctx, s.srv, "tcp", domain)
	switch {
	case err != nil && !notFound(err):
		c.add(record, Fail, "SRV lookup failed: %v", err)
		return
	case len(srvs) == 1 && srvs[0].Target == "." && s.fallback == 0:
		c.add(record, Warn, "the SRV record says %s has no such service: %s cannot use the listener on port %d; "+
			"remove the record, or replace it with %s. SRV 0 5 %d %s.", domain, s.who, port, record, port, domain)
		return
	case len(srvs) == 1 && srvs[0].Target == ".":
		c.add(record, Fail, "the SRV record says %s has no such service: %s cannot connect; remove it", domain, s.who)
		return
	case len(srvs) == 0 && s.fallback == 0:
		c.add(record, Warn, "no SRV record: %s find the direct TLS listener only through one (XEP-0368, optional): "+
			"add %s. SRV 0 5 %d %s.", s.who, record, port, domain)
		return
	case len(srvs) == 0:
		if port != s.fallback {
			c.add(record, Warn, "no SRV record, and the listener is on port %d: %s try port %d, so it must be forwarded there; "+
				"otherwise add %s. SRV 0 5 %d %s.", port, s.who, s.fallback, record, port, domain)
			return
		}
		c.target(ctx, record, domain, s.fallback, port, fmt.Sprintf("no SRV record: %s connect to %s port %d", s.who, domain, s.fallback))
		return
	}
	for _, r := range srvs {
		target := strings.TrimSuffix(r.Target, ".")
		c.target(ctx, record, target, r.Port, port, fmt.Sprintf("SRV points to %s port %d", target, r.Port))
	}
}

// target checks one place a record leads to: that name resolves, to this
// machine, and to the listener's port.
func (c *checker) target(ctx context.Context, record, name string, port, listening uint16, found string) {
	addrs, err := c.lookupAddrs(ctx, name)
	switch {
	case err != nil && notFound(err), err == nil && len(addrs) == 0:
		c.add(record, Fail, "%s, which has no address (A or AAAA record): add one", found)
	case err != nil:
		c.add(record, Fail, "%s; looking up its address failed: %v", found, err)
	case !c.isLocal(addrs):
		c.add(record, Warn, "%s, at %v, which is not an address of this machine: fine behind NAT or a proxy that forwards port %d here, "+
			"otherwise fix the record", found, addrs, port)
	case len(c.foreign(addrs)) > 0:
		c.add(record, Warn, "%s, at %v, of which %v are not addresses of this machine: clients and servers that try those first "+
			"fail or wait (a stale AAAA record, often); fix or remove them, unless a proxy forwards them here", found, addrs, c.foreign(addrs))
	case port != listening:
		c.add(record, Warn, "%s, but the listener is on port %d: fine if a proxy forwards it, otherwise fix the record", found, listening)
	default:
		c.add(record, OK, "%s, at %v, this machine", found, addrs)
	}
}

// rooms checks that other servers can reach the rooms of host's
// conference service: they look it up like any server domain.
func (c *checker) rooms(ctx context.Context, host string) {
	domain := "conference." + host
	cfg := c.Config.Config
	c.service(ctx, domain, service{"xmpp-server", cfg.S2S.Listen, 5269, "users of other servers joining rooms", true})
	if cfg.S2S.ListenTLS != "" {
		c.service(ctx, domain, service{"xmpps-server", cfg.S2S.ListenTLS, 0, "other servers using direct TLS for the rooms", true})
	}
	c.roomsCertificate(ctx, host, domain)
}

// soften turns the failures found since the first into warnings.
func (c *checker) soften(first int) {
	for i := first; i < len(c.found); i++ {
		if c.found[i].Level == Fail {
			c.found[i].Level = Warn
		}
	}
}

// notFound reports whether err says the name has no such record.
func notFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}
