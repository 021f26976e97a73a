package router

import (
	"context"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// broadcastPresence handles presence without 'to' from a session (RFC 6121
// §4.2, §4.4, §4.5): it records the session's availability and priority and
// sends the presence to every available resource of the account, the sender
// included. A session's first available presence also brings it the current
// presence of the account's other resources.
func (r *Router) broadcastPresence(ctx context.Context, from jid.JID, st *xmlstream.Element) {
	typ := stanza.Type(st)
	if typ != "available" && typ != "unavailable" {
		// Subscription and probe types need a 'to'; error presence from a
		// client to nobody is meaningless. Both are ignored.
		return
	}
	// Only available presence is checked: going offline is never refused
	// for a priority or show it no longer needs.
	priority := 0
	if p := st.Child(stanza.NSClient, "priority"); p != nil && typ == "available" {
		// An xs:byte: white space around the number collapses away.
		n, err := strconv.Atoi(strings.Trim(p.Text(), " \t\r\n"))
		if err != nil || n < -128 || n > 127 {
			r.bounce(ctx, st, stanza.BadRequest, "priority must be an integer from -128 to 127")
			return
		}
		priority = n
	}
	if typ == "available" && !validShow(st) {
		r.bounce(ctx, st, stanza.BadRequest, "show must be away, chat, dnd or xa")
		return
	}
	var others []*xmlstream.Element // the other resources' presence, for an initial presence
	initial, raised := false, false
	r.mu.Lock()
	acct := r.users[from.Bare().String()]
	if acct == nil {
		r.mu.Unlock()
		return
	}
	for _, e := range acct.sessions {
		if e.resource != from.Resourcepart() {
			continue
		}
		if typ == "available" {
			// A resource that raises its priority from negative gets what
			// waited offline, as one coming online does (XEP-0160 §2).
			raised = e.available && e.priority < 0 && priority >= 0
			if !e.available {
				initial = true
				e.settling = r.presence != nil
				for _, o := range acct.sessions {
					if o != e && o.available && o.presence != nil {
						others = append(others, o.presence)
					}
				}
			}
			e.available, e.priority, e.presence = true, priority, st
		} else {
			e.available, e.priority, e.presence, e.settling = false, 0, nil, false
		}
		r.changed(e)
	}
	r.mu.Unlock()

	self := r.session(from)
	r.broadcastOwn(ctx, from, st, nil)
	if self == nil {
		return
	}
	if typ == "unavailable" {
		self.Deliver(addressed(st, from))
	}
	for _, p := range others {
		self.Deliver(addressed(p, from))
	}
	if r.presence != nil {
		r.presence.Broadcast(ctx, from, st, initial)
		if initial {
			r.Settled(from) // in case the handler did not
		}
	}
	if typ == "available" {
		for _, f := range r.onAvailable {
			f(ctx, from, st)
		}
	}
	if (initial || raised) && r.offline != nil {
		r.offline.Flush(ctx, from)
	}
	if initial {
		for _, f := range r.onInitial {
			f(ctx, from)
		}
	}
}

// validShow reports whether st has no <show/>, an empty one, or one of
// the values RFC 6121 §4.7.2.1 allows, white space around it collapsed
// as for the xs:token it is.
func validShow(st *xmlstream.Element) bool {
	show := st.Child(stanza.NSClient, "show")
	if show == nil {
		return true
	}
	switch strings.Trim(show.Text(), " \t\r\n") {
	case "", "away", "chat", "dnd", "xa":
		return true
	}
	return false
}

// Priority returns the priority of the session full's available
// presence as the router read it (RFC 6121 §4.7.2.3: an xs:byte, white
// space around it collapsed); ok is false when full is not available.
func (r *Router) Priority(full jid.JID) (priority int, ok bool) {
	res := full.Resourcepart()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if acct := r.users[full.Bare().String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.resource == res && e.available {
				return e.priority, true
			}
		}
	}
	return 0, false
}

// addressed returns a copy of st addressed to the full JID to.
func addressed(st *xmlstream.Element, to jid.JID) *xmlstream.Element {
	c := st.Copy()
	c.SetAttr("to", to.String())
	return c
}

// broadcastOwn sends a copy of st, addressed to each, to every available
// resource of from's account except skip.
func (r *Router) broadcastOwn(ctx context.Context, from jid.JID, st *xmlstream.Element, skip Session) {
	r.mu.RLock()
	var targets []Session
	if acct := r.users[from.Bare().String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.available && e.s != skip {
				targets = append(targets, e.s)
			}
		}
	}
	r.mu.RUnlock()
	for _, s := range targets {
		s.Deliver(addressed(st, s.JID()))
	}
}
