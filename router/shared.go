package router

import "xmppd/xmlstream"

// SharingSession is a Session that keeps the messages it took until its
// client acknowledges them and, when it ends first, routes them again
// (XEP-0198 §4). It is told which other sessions of its account took a
// message too, so that it does not give them the message a second time:
// the user has it while one of them is bound, and the last of them to
// end unacknowledged routes it again.
type SharingSession interface {
	Session
	// Shared is told that the sessions others, of the same account, took
	// the message st as well when this session took it.
	// It must not block or call the Router.
	Shared(st *xmlstream.Element, others []Session)
}

// shared tells each SharingSession of took that the sessions of others,
// other than itself, got st too.
func (r *Router) shared(st *xmlstream.Element, took, others []Session) {
	for _, s := range took {
		ss, ok := s.(SharingSession)
		if !ok {
			continue
		}
		var not []Session
		for _, o := range others {
			if o != s {
				not = append(not, o)
			}
		}
		if len(not) > 0 {
			ss.Shared(st, not)
		}
	}
}

// AnyBound reports whether any of ss is in the session table, on this
// node or, mirrored, on another.
func (r *Router) AnyBound(ss []Session) bool {
	if len(ss) == 0 {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range ss {
		if acct := r.users[s.JID().Bare().String()]; acct != nil {
			for _, e := range acct.sessions {
				if e.s == s {
					return true
				}
			}
		}
	}
	return false
}
