// Package carbons implements XEP-0280: Message Carbons, with the
// forwarding wrapper of XEP-0297: Stanza Forwarding.
//
// A client session enables carbons for itself; from then on, until it
// disables them or its session ends, it gets a copy of each instant
// message that another resource of its account sent (wrapped in <sent/>)
// or received without it (wrapped in <received/>). Which messages are
// copied is decided by eligible, following XEP-0280 §6.
//
// The enabled sessions are kept in memory only: a session that reconnects
// enables carbons again, as XEP-0280 §4 expects of clients.
package carbons

import (
	"context"
	"slices"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces used by the module.
const (
	// NS qualifies <enable/>, <disable/>, <private/> and the <sent/> and
	// <received/> wrappers of XEP-0280.
	NS = "urn:xmpp:carbons:2"
	// NSForward qualifies the <forwarded/> element of XEP-0297.
	NSForward = "urn:xmpp:forward:0"
)

// Module is message carbons for one router. It is safe for concurrent use.
type Module struct {
	r       *router.Router
	enabled enabledSet
}

// Module watches every message the router delivers.
var _ router.MessageObserver = (*Module)(nil)

// New returns the module for r; Register plugs it in.
func New(r *router.Router) *Module {
	return &Module{r: r, enabled: enabledSet{byAccount: map[string]map[string]bool{}}}
}

// Register announces urn:xmpp:carbons:2, answers <enable/> and <disable/>,
// adds the module as a message observer of the router given to New, and
// has it forget sessions when they end.
func (m *Module) Register() {
	m.r.AddFeature(NS)
	m.r.HandleIQ(router.ToAccount, "set", NS, "enable", m.handleToggle(true))
	m.r.HandleIQ(router.ToAccount, "set", NS, "disable", m.handleToggle(false))
	m.r.AddMessageObserver(m)
	m.r.OnUnbind(m.enabled.forget)
}

// handleToggle answers <enable/> (on) or <disable/>. Asking twice is not an
// error (XEP-0280 §10.1). Only a resource of the account may change its
// own state; XEP-0280 §5.1 recommends not-allowed for anyone else.
func (m *Module) handleToggle(on bool) router.IQHandler {
	return func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if iq.From.Resourcepart() == "" || !iq.From.Bare().Equal(iq.To) {
			return iq.Error(stanza.NotAllowed, "carbons can only be changed by a session for itself")
		}
		m.enabled.set(iq.From, on)
		return iq.Result(nil)
	}
}

// Sent copies a message a client sent to the account's other enabled
// resources (XEP-0280 §8), whether or not the sender enabled carbons.
//
// A message to the sender's own account is left to Received, which knows
// which resources got it, so that no resource sees it twice.
func (m *Module) Sent(ctx context.Context, from jid.JID, st *xmlstream.Element) {
	if to := st.Attr("to"); to == "" || sameAccount(to, from) {
		return
	}
	if !eligible(st, false) {
		return
	}
	m.copyTo(from.Bare(), "sent", st, from.Resourcepart())
}

// Received copies a message delivered to some sessions of the account to
// to its enabled resources that did not get it (XEP-0280 §7). When the
// sender is a resource of the same account, it is skipped too: it has the
// message already.
func (m *Module) Received(ctx context.Context, to jid.JID, st *xmlstream.Element, delivered []jid.JID) {
	if !eligible(st, true) {
		return
	}
	skip := make([]string, 0, len(delivered)+1)
	for _, d := range delivered {
		skip = append(skip, d.Resourcepart())
	}
	if from, err := jid.Parse(st.Attr("from")); err == nil && from.Bare().Equal(to.Bare()) {
		skip = append(skip, from.Resourcepart())
	}
	m.copyTo(to.Bare(), "received", st, skip...)
}

// copyTo delivers st wrapped in <wrapper/> and <forwarded/> to each
// enabled resource of the account bare except those in skip. The wrapping
// message is from the bare JID, to the resource's full JID, and keeps the
// original's type (XEP-0280 §7, §8).
func (m *Module) copyTo(bare jid.JID, wrapper string, st *xmlstream.Element, skip ...string) {
	var orig *xmlstream.Element // one copy, shared by all the wrappers: never modified
	for _, res := range m.enabled.resources(bare) {
		if slices.Contains(skip, res) {
			continue
		}
		to, err := bare.WithResource(res)
		if err != nil {
			continue
		}
		if orig == nil {
			orig = st.Copy()
		}
		fwd := xmlstream.NewElement(NSForward, "forwarded").AddChild(orig)
		msg := xmlstream.NewElement(stanza.NSClient, stanza.Message,
			"from", bare.String(), "to", to.String(), "type", st.Attr("type"))
		msg.AddChild(xmlstream.NewElement(NS, wrapper).AddChild(fwd))
		m.r.DeliverToSession(to, msg)
	}
}

// sameAccount reports whether the JID s belongs to the account of j.
func sameAccount(s string, j jid.JID) bool {
	o, err := jid.Parse(s)
	return err == nil && o.Bare().Equal(j.Bare())
}

// enabledSet remembers the sessions that enabled carbons. A session is
// forgotten when it leaves the router's session table (router.OnUnbind),
// so the set holds at most one entry per bound session.
type enabledSet struct {
	mu        sync.Mutex
	byAccount map[string]map[string]bool // bare JID → resources
}

// set enables (on) or disables carbons for the session full.
func (e *enabledSet) set(full jid.JID, on bool) {
	if !on {
		e.forget(full)
		return
	}
	bare := full.Bare().String()
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.byAccount[bare]
	if rs == nil {
		rs = map[string]bool{}
		e.byAccount[bare] = rs
	}
	rs[full.Resourcepart()] = true
}

// resources returns the enabled resources of the account bare.
func (e *enabledSet) resources(bare jid.JID) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := e.byAccount[bare.String()]
	if len(rs) == 0 {
		return nil
	}
	out := make([]string, 0, len(rs))
	for r := range rs {
		out = append(out, r)
	}
	return out
}

// forget drops the session full.
func (e *enabledSet) forget(full jid.JID) {
	bare := full.Bare().String()
	e.mu.Lock()
	defer e.mu.Unlock()
	if rs := e.byAccount[bare]; rs != nil {
		delete(rs, full.Resourcepart())
		if len(rs) == 0 {
			delete(e.byAccount, bare)
		}
	}
}
