package router

import (
	"time"

	"mellium.im/xmpp/jid"
)

// revokedFor is how long a revocation is remembered: longer than any
// stream takes to go from its login to binding a resource.
const revokedFor = 15 * time.Minute

// revoke records that the logins of the account bare made until now are
// void (its account was deleted, its password changed), for Revoked.
func (r *Router) revoke(bare jid.JID) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked == nil {
		r.revoked = map[string]time.Time{}
	}
	for k, at := range r.revoked {
		if now.Sub(at) > revokedFor {
			delete(r.revoked, k)
		}
	}
	r.revoked[bare.String()] = now
}

// Revoked reports whether the logins of the account bare were revoked
// after the time login: a stream that authenticated then, and has bound a
// resource since, is to be ended. A stream binds first and asks after, so
// that a revocation between the two cannot miss it: either EndSessions
// finds its session, or this finds the revocation.
func (r *Router) Revoked(bare jid.JID, login time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	at, ok := r.revoked[bare.String()]
	return ok && at.After(login)
}

// OnRevoke has f told of each account whose logins EndSessions revokes
// on this node, with the stream error its sessions get: a cluster's other
// nodes must revoke them too (RevokeHere).
func (r *Router) OnRevoke(f func(bare jid.JID, condition, text string)) {
	r.revokedHooks = append(r.revokedHooks, f)
}

// RevokeHere revokes the logins of the account bare made until now on
// this node, and ends its sessions here with the stream error condition:
// another node of the cluster revoked them. A session that bound here
// after that node ended the account's sessions, and before this node
// heard of it, ends too.
func (r *Router) RevokeHere(bare jid.JID, condition, text string) {
	r.revoke(bare)
	var local []Session
	r.mu.RLock()
	if acct := r.users[bare.String()]; acct != nil {
		for _, e := range acct.sessions {
			if !e.remote {
				local = append(local, e.s)
			}
		}
	}
	r.mu.RUnlock()
	for _, s := range local {
		s.End(condition, text)
	}
}
