package router

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// SessionState is what the other nodes of a cluster know of a session:
// enough to pick it as a recipient, answer probes and run the per-session
// rules of the modules (marks).
type SessionState struct {
	JID       jid.JID
	Available bool
	Priority  int
	// Presence is the last available presence the session broadcast; nil
	// while it is unavailable.
	Presence *xmlstream.Element
	// Marks are what the modules noted of the session (Mark), sorted.
	Marks []string
	// Bound is when the session was bound, by its node's clock.
	Bound time.Time
}

// Directory is told of every change to this node's own sessions, so that
// the other nodes of a cluster can mirror them (Mirror). Its methods are
// called with the session table locked, in the order of the changes: they
// must not block and must not call the Router.
type Directory interface {
	// Changed is told a local session's state after it was bound or its
	// presence or marks changed.
	Changed(SessionState)
	// Removed is told that the local session j left the table.
	Removed(j jid.JID)
}

// SetDirectory has d told of every change to the local sessions. Call it
// once, before serving.
func (r *Router) SetDirectory(d Directory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.directory = d
}

// LocalStates calls f with the state of every local session, with the
// table locked: nothing changes, and the Directory is told nothing, until
// f returns. f must not call the Router.
func (r *Router) LocalStates(f func([]SessionState)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var all []SessionState
	r.eachLocalLocked(func(e *entry) { all = append(all, e.state()) })
	f(all)
}

func (e *entry) state() SessionState {
	return SessionState{JID: e.s.JID(), Available: e.available, Priority: e.priority,
		Presence: e.presence, Marks: slices.Clone(e.marks), Bound: e.bound}
}

// changed tells the directory of e's new state; r.mu must be held.
func (r *Router) changed(e *entry) {
	if r.directory != nil && !e.remote {
		r.directory.Changed(e.state())
	}
}

// removed tells the directory that the local e left; r.mu must be held.
func (r *Router) removed(e *entry) {
	if r.directory != nil && !e.remote {
		r.directory.Removed(e.s.JID())
	}
}

// Mirror adds or updates s, a session bound on another node of the
// cluster, with its state there. Nothing is broadcast and no hook runs:
// the session's own node did that. A local session of the same full JID
// bound before s ends with conflict, as Bind would end it (RFC 6120
// §7.7.2.2). One bound after s, on this node while s was bound on the
// other before either node heard of the other's, is the newer: it stays,
// s is not mirrored, and its node ends it once it hears of this one.
func (r *Router) Mirror(s Session, st SessionState) {
	j := s.JID()
	r.mu.Lock()
	if e := r.localEntryLocked(j); e != nil && !st.Bound.IsZero() && e.bound.After(st.Bound) {
		r.mu.Unlock()
		return
	}
	e, replaced := r.putLocked(s, true)
	e.available, e.priority, e.presence, e.marks, e.bound = st.Available, st.Priority, st.Presence, st.Marks, st.Bound
	if replaced != nil {
		r.removed(replaced)
	}
	r.mu.Unlock()
	if replaced != nil && !replaced.remote {
		replaced.s.End("conflict", "replaced by a new session")
		if replaced.available {
			r.ended(replaced, s)
		}
		r.notifyUnbound(j)
	}
}

// Unmirror removes s, a session mirrored from another node, and runs the
// OnUnbind hooks for it. With announce, its account's other resources and
// its contacts are told it is unavailable, as if it ended here: for a
// session whose node stopped answering. Nothing happens when s is no
// longer in the table.
func (r *Router) Unmirror(s Session, announce bool) {
	j := s.JID()
	bare := j.Bare().String()
	r.mu.Lock()
	acct := r.users[bare]
	var gone *entry
	if acct != nil {
		if i := slices.IndexFunc(acct.sessions, func(e *entry) bool { return e.s == s }); i >= 0 {
			gone = acct.sessions[i]
			acct.sessions = slices.Delete(acct.sessions, i, i+1)
		}
		if len(acct.sessions) == 0 {
			delete(r.users, bare)
		}
	}
	r.mu.Unlock()
	if gone == nil {
		return
	}
	if announce && gone.available {
		r.ended(gone, nil)
	}
	r.notifyUnbound(j)
}

// Redeliver delivers st, which another node of the cluster routed to the
// local session to, after the hooks ran there, and calls safe (if not
// nil) once st is safe, as DeliverToSessionSafe does. If that session is
// gone, st is handled as for an unknown resource (RFC 6121 §8.5.3.2), on
// this node alone: a chat or normal message is stored offline, an IQ
// request bounced, anything else dropped; then safe is called.
func (r *Router) Redeliver(ctx context.Context, to jid.JID, st *xmlstream.Element, safe func()) {
	if safe == nil {
		safe = func() {}
	}
	if s := r.LocalSession(to); s != nil && deliverSafe(s, st, safe) {
		return
	}
	r.noResource(ctx, to, st, safe)
}

// Reroute routes st again for the full JID to, whose session went away
// with its node of the cluster before that node said st was safe. A
// session bound to to since, on any node, gets it. Otherwise st is handled
// as for an unknown resource (RFC 6121 §8.5.3.2.1), as routeToFull does: a
// chat or normal message goes to the account's available resources of
// highest priority, on any node, or else is stored offline; an IQ request
// is bounced; anything else is dropped. The hooks ran when st was first
// routed and do not run again. safe (if not nil) is called once st is
// safe.
func (r *Router) Reroute(ctx context.Context, to jid.JID, st *xmlstream.Element, safe func()) {
	if safe == nil {
		safe = func() {}
	}
	if s := r.session(to); s != nil && deliverSafe(s, st, safe) {
		return
	}
	if typ := stanza.Type(st); st.Name.Local == stanza.Message && (typ == "chat" || typ == "normal") &&
		r.deliverToBestSafe(to.Bare(), st, safe) {
		return
	}
	r.noResource(ctx, to, st, safe)
}

// deliverToBestSafe delivers the message st to the available resources
// of highest priority of the account bare, on any node, or to the next
// best when those do not take it, and reports whether any did. safe is
// then called once st is safe with all that took it.
func (r *Router) deliverToBestSafe(bare jid.JID, st *xmlstream.Element, safe func()) bool {
	var pending atomic.Int32
	pending.Store(1) // released once every target was asked
	done := func() {
		if pending.Add(-1) == 0 {
			safe()
		}
	}
	var took []Session
	var refused map[string]bool
	targets, _ := r.bareTargets(bare, st, nil)
	for len(targets) > 0 && len(took) == 0 {
		for _, s := range targets {
			pending.Add(1)
			if deliverSafe(s, st, done) {
				took = append(took, s)
				continue
			}
			pending.Add(-1)
			if refused == nil {
				refused = map[string]bool{}
			}
			refused[s.JID().String()] = true
		}
		if len(took) == 0 {
			targets, _ = r.bareTargets(bare, st, refused)
		}
	}
	if len(took) == 0 {
		return false
	}
	if len(took) > 1 {
		r.shared(st, took, took) // as routeToBare does
	}
	done()
	return true
}

// noResource handles st, routed again for the full JID to whose session is
// gone, when no session takes it: a chat or normal message is stored
// offline, an IQ request bounced, anything else dropped; then safe is
// called.
func (r *Router) noResource(ctx context.Context, to jid.JID, st *xmlstream.Element, safe func()) {
	defer safe()
	switch st.Name.Local {
	case stanza.IQ:
		r.bounce(ctx, st, stanza.ServiceUnavailable, "")
	case stanza.Message:
		if typ := stanza.Type(st); (typ == "chat" || typ == "normal") && r.offline != nil {
			r.storeOffline(ctx, to.Bare(), st)
		}
	}
}

// EndLocal ends the session of this node bound to full, if there is one,
// with a stream error, as Session.End does.
func (r *Router) EndLocal(full jid.JID, condition, text string) {
	if s := r.LocalSession(full); s != nil {
		s.End(condition, text)
	}
}

// LocalSession returns the session of this node bound to the full JID
// j, or nil.
func (r *Router) LocalSession(j jid.JID) Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.localEntryLocked(j); e != nil {
		return e.s
	}
	return nil
}

// Mirrored returns the session of another node of the cluster bound to
// the full JID j, or nil.
func (r *Router) Mirrored(j jid.JID) Session {
	res := j.Resourcepart()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if acct := r.users[j.Bare().String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.resource == res && e.remote {
				return e.s
			}
		}
	}
	return nil
}

// localEntryLocked returns the entry of the session of this node bound to
// the full JID j, or nil; r.mu must be held.
func (r *Router) localEntryLocked(j jid.JID) *entry {
	res := j.Resourcepart()
	if acct := r.users[j.Bare().String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.resource == res && !e.remote {
				return e
			}
		}
	}
	return nil
}

// Mark sets (on) or clears the named mark of the session full, such as
// "carbons" for a session that enabled message carbons. Marks go with
// the session, and the other nodes of a cluster see them.
func (r *Router) Mark(full jid.JID, mark string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.localEntryLocked(full)
	if e == nil {
		return
	}
	i, found := slices.BinarySearch(e.marks, mark)
	switch {
	case on && !found:
		e.marks = slices.Insert(e.marks, i, mark)
	case !on && found:
		e.marks = slices.Delete(e.marks, i, i+1)
	default:
		return
	}
	r.changed(e)
}

// SetMarks replaces the marks of the local session full that begin with
// prefix by prefix+name for each of names, as one change.
func (r *Router) SetMarks(full jid.JID, prefix string, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.localEntryLocked(full)
	if e == nil {
		return
	}
	marks := slices.DeleteFunc(slices.Clone(e.marks), func(m string) bool { return strings.HasPrefix(m, prefix) })
	for _, n := range names {
		marks = append(marks, prefix+n)
	}
	slices.Sort(marks)
	marks = slices.Compact(marks)
	if !slices.Equal(marks, e.marks) {
		e.marks = marks
		r.changed(e)
	}
}

// Marked returns the full JIDs of the account bare's sessions that carry
// mark.
func (r *Router) Marked(bare jid.JID, mark string) []jid.JID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var js []jid.JID
	if acct := r.users[bare.String()]; acct != nil {
		for _, e := range acct.sessions {
			if _, found := slices.BinarySearch(e.marks, mark); found {
				js = append(js, e.s.JID())
			}
		}
	}
	return js
}

// MarksOf returns the marks beginning with prefix that any session of
// the account bare carries, each once.
func (r *Router) MarksOf(bare jid.JID, prefix string) map[string]bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	marks := map[string]bool{}
	if acct := r.users[bare.String()]; acct != nil {
		for _, e := range acct.sessions {
			for _, m := range e.marks {
				if strings.HasPrefix(m, prefix) {
					marks[m] = true
				}
			}
		}
	}
	return marks
}

// HasMark reports whether the session full carries mark.
func (r *Router) HasMark(full jid.JID, mark string) bool {
	res := full.Resourcepart()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if acct := r.users[full.Bare().String()]; acct != nil {
		for _, e := range acct.sessions {
			if e.resource == res {
				_, found := slices.BinarySearch(e.marks, mark)
				return found
			}
		}
	}
	return false
}
