package router

import (
	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// SharingSession is a Session that keeps the messages it took until its
// client acknowledges them and, when it ends first, routes them again
// (XEP-0198 §4). It is told which other sessions of its account got a
// message too, directly or as a copy, so that it does not give them the
// message a second time: the user has it already while one of them is
// bound.
type SharingSession interface {
	Session
	// Shared is told that the sessions others, of the same account, got
	// the message st as well, or a copy of it, when this session took st.
	// It must not block or call the Router.
	Shared(st *xmlstream.Element, others []Session)
}

// Copied tells the sessions bound to the full JIDs in took, which took
// the message st, that those bound to the full JIDs in copies got a copy
// of it, such as a carbon (XEP-0280). A MessageObserver that copies
// messages calls it (SharingSession).
func (r *Router) Copied(st *xmlstream.Element, took, copies []jid.JID) {
	if len(took) == 0 || len(copies) == 0 {
		return
	}
	r.shared(st, r.boundTo(took), r.boundTo(copies))
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

// boundTo returns the sessions bound to the full JIDs js.
func (r *Router) boundTo(js []jid.JID) []Session {
	ss := make([]Session, 0, len(js))
	for _, j := range js {
		if s := r.session(j); s != nil {
			ss = append(ss, s)
		}
	}
	return ss
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
