package blocking

import (
	"slices"
	"strings"

	"mellium.im/xmpp/jid"
)

// address is a JID split into its parts, the form the matching works on:
// comparing parts needs no string building per check.
type address struct {
	local, domain, resource string
}

func split(j jid.JID) address {
	return address{j.Localpart(), j.Domainpart(), j.Resourcepart()}
}

// String returns a as a JID.
func (a address) String() string {
	s := a.domain
	if a.local != "" {
		s = a.local + "@" + s
	}
	if a.resource != "" {
		s += "/" + a.resource
	}
	return s
}

// account returns the bare JID part of a, the key of its blocklist.
func (a address) account() address { return address{local: a.local, domain: a.domain} }

// blocklist is one account's blocked JIDs. It is never changed once built,
// so readers need no lock; a change builds a new blocklist.
type blocklist struct {
	items []jid.JID // sorted by their string form, as the blocklist result lists them
	set   map[address]struct{}
}

var emptyList = &blocklist{}

func newBlocklist(items []jid.JID) *blocklist {
	if len(items) == 0 {
		return emptyList
	}
	l := &blocklist{set: make(map[address]struct{}, len(items))}
	for _, j := range items {
		a := split(j)
		if _, dup := l.set[a]; !dup {
			l.set[a] = struct{}{}
			l.items = append(l.items, j)
		}
	}
	slices.SortFunc(l.items, func(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) })
	return l
}

// len returns the number of blocked JIDs.
func (l *blocklist) len() int { return len(l.items) }

// has reports whether j itself is in the list (no matching rules).
func (l *blocklist) has(j jid.JID) bool {
	_, ok := l.set[split(j)]
	return ok
}

// with returns the list with added blocked too.
func (l *blocklist) with(added []jid.JID) *blocklist {
	if len(added) == 0 {
		return l
	}
	return newBlocklist(append(slices.Clip(l.items), added...))
}

// without returns the list without removed.
func (l *blocklist) without(removed []jid.JID) *blocklist {
	if len(removed) == 0 {
		return l
	}
	gone := make(map[address]bool, len(removed))
	for _, j := range removed {
		gone[split(j)] = true
	}
	var kept []jid.JID
	for _, j := range l.items {
		if !gone[split(j)] {
			kept = append(kept, j)
		}
	}
	return newBlocklist(kept)
}

// matches reports whether peer is blocked by an item of the list, by the
// rules of XEP-0191 §6 (those of XEP-0016 §2.1): user@domain/resource
// matches only itself; user@domain any of its resources; domain/resource
// that resource at the domain, of any user or none (the sender's JID is
// reduced to each form in turn); domain the domain itself and anything at
// it, but not its subdomains, which the specifications do not name and
// Prosody and ejabberd do not match either.
func (l *blocklist) matches(peer address) bool {
	if len(l.set) == 0 {
		return false
	}
	has := func(a address) bool { _, ok := l.set[a]; return ok }
	if peer.local != "" {
		if peer.resource != "" && has(peer) {
			return true
		}
		if has(address{local: peer.local, domain: peer.domain}) {
			return true
		}
	}
	if peer.resource != "" && has(address{domain: peer.domain, resource: peer.resource}) {
		return true
	}
	return has(address{domain: peer.domain})
}
