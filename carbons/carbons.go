// Package carbons implements XEP-0280: Message Carbons, with the
// forwarding wrapper of XEP-0297: Stanza Forwarding.
//
// A client session enables carbons for itself; from then on, until it
// disables them or its session ends, it gets a copy of each instant
// message that another resource of its account sent (wrapped in <sent/>)
// or received without it (wrapped in <received/>). Which messages are
// copied is decided by eligible, following XEP-0280 §6.
//
// A session that enabled carbons carries the router mark Mark, which
// goes with the session: one that reconnects enables carbons again, as
// XEP-0280 §4 expects of clients.
package carbons

import (
	"context"
	"slices"

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
	// nsSID qualifies XEP-0359 stanza ids.
	nsSID = "urn:xmpp:sid:0"
)

// Mark is the router mark (router.Router.Mark) of a session that enabled
// carbons.
const Mark = "carbons"

// Module is message carbons for one router. It is safe for concurrent use.
type Module struct {
	r *router.Router
}

// Module watches every message the router delivers.
var _ router.MessageObserver = (*Module)(nil)

// New returns the module for r; Register plugs it in.
func New(r *router.Router) *Module {
	return &Module{r: r}
}

// Register announces urn:xmpp:carbons:2, answers <enable/> and <disable/>,
// and adds the module as a message observer of the router given to New
// and as a watcher of what it stores offline.
func (m *Module) Register() {
	m.r.AddFeature(NS)
	m.r.HandleIQ(router.ToAccount, "set", NS, "enable", m.handleToggle(true))
	m.r.HandleIQ(router.ToAccount, "set", NS, "disable", m.handleToggle(false))
	m.r.AddMessageObserver(m)
	m.r.OnStoredOffline(m.storedOffline)
}

// handleToggle answers <enable/> (on) or <disable/>. Asking twice is not an
// error (XEP-0280 §10.1). Only a resource of the account may change its
// own state; XEP-0280 §5.1 recommends not-allowed for anyone else.
func (m *Module) handleToggle(on bool) router.IQHandler {
	return func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if iq.From.Resourcepart() == "" || !iq.From.Bare().Equal(iq.To) {
			return iq.Error(stanza.NotAllowed, "carbons can only be changed by a session for itself")
		}
		m.r.Mark(iq.From, Mark, on)
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
	m.copyTo(from.Bare(), "sent", st, router.SenderArchiveID(ctx, st), from.Resourcepart())
}

// Received copies a message delivered to some sessions of the account to
// to its enabled resources that did not get it (XEP-0280 §7). When the
// sender is a resource of the same account, it is skipped too: it has the
// message already. A message routed again (router.Rerouted) is not
// copied: its enabled resources got their copies the first time, e.g.
// before the session it reached ended without its client acknowledging
// it (XEP-0198); a resource that enabled carbons in between gets none,
// and finds the message in the archive. (Rooms route their private
// messages again for a nick's other sessions: those are not copied
// anyway.)
func (m *Module) Received(ctx context.Context, to jid.JID, st *xmlstream.Element, delivered []jid.JID) {
	if !eligible(st, true) || router.Rerouted(ctx) {
		return
	}
	skip := make([]string, 0, len(delivered)+1)
	for _, d := range delivered {
		skip = append(skip, d.Resourcepart())
	}
	if from, err := jid.Parse(st.Attr("from")); err == nil && from.Bare().Equal(to.Bare()) {
		skip = append(skip, from.Resourcepart())
	}
	m.copyTo(to.Bare(), "received", st, "", skip...)
}

// storedOffline copies a message that no resource of the account took,
// and that went to offline storage, to its enabled resources that are
// available: they are at a negative priority, and get neither messages
// to the bare JID (RFC 6121 §8.5.2.1.1) nor what waits offline (XEP-0160
// §2), yet they did not receive it under the delivery rules (XEP-0280
// §7). Enabled resources that are not available yet get the message
// itself from offline storage with their initial presence; the sender,
// when it is a resource of the account, has it already (Received).
func (m *Module) storedOffline(ctx context.Context, to jid.JID, st *xmlstream.Element) {
	available := m.r.AvailableResources(to.Bare())
	var later []jid.JID // enabled, and get st from offline storage
	for _, j := range m.r.Marked(to.Bare(), Mark) {
		if !slices.ContainsFunc(available, j.Equal) {
			later = append(later, j)
		}
	}
	m.Received(ctx, to, st, later)
}

// copyTo delivers st wrapped in <wrapper/> and <forwarded/> to each
// enabled resource of the account bare except those in skip. The wrapping
// message is from the bare JID, to the resource's full JID, and keeps the
// original's type (XEP-0280 §7, §8). A sent message gets archiveID, its
// id in the account's archive ("" for none), as its <stanza-id/>
// (XEP-0313 §3.5).
func (m *Module) copyTo(bare jid.JID, wrapper string, st *xmlstream.Element, archiveID string, skip ...string) {
	var orig *xmlstream.Element // one copy, shared by all the wrappers: never modified
	for _, to := range m.r.Marked(bare, Mark) {
		if slices.Contains(skip, to.Resourcepart()) {
			continue
		}
		if orig == nil {
			orig = st.Copy()
			if wrapper == "sent" {
				// The archive marked the message with the recipient's
				// archive id, which the sender's account may not see
				// (XEP-0313 §3.5).
				orig.Children = slices.DeleteFunc(orig.Children, func(c xmlstream.Node) bool {
					e, ok := c.(*xmlstream.Element)
					return ok && e.Name.Space == nsSID && e.Name.Local == "stanza-id" && e.Attr("by") != bare.String()
				})
				if archiveID != "" {
					orig.AddChild(xmlstream.NewElement(nsSID, "stanza-id", "by", bare.String(), "id", archiveID))
				}
			}
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
