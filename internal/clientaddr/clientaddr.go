// Package clientaddr names the client behind a remote address as every
// per-client limit counts it: the failed-login throttle, the streams
// still negotiating, registrations.
package clientaddr

import (
	"net"
	"net/netip"
)

// Key returns what remote ("host:port" or a host) counts as: its IPv4
// address, also when written IPv4-mapped, or the /64 of its IPv6
// address, which one client usually holds whole. A host that is not an
// IP address is its own key.
func Key(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// IsLoopback reports whether remote's host is a loopback address.
func IsLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
