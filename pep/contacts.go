package pep

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/caps"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Bounds on the remote resources followed: over all accounts, and for
// one account. Beyond them new ones get no notifications until others go
// away.
const (
	maxRemote           = 100000
	maxRemotePerAccount = 5000
)

// remote follows the resources of other servers' users that sent a local
// account with an available session their presence with entity
// capabilities, so that the account's PEP notifications reach those of
// its presence subscribers that asked for them (XEP-0163 §4.3.1), as they
// reach local ones. This node learns them from the presence it receives
// (an account that comes online probes its contacts, which answer); it
// forgets a resource when it becomes unavailable.
type remote struct {
	mu       sync.Mutex
	accounts map[string]*remoteAccount // by bare JID
	n        int
}

// remoteAccount is the remote resources one account follows.
type remoteAccount struct {
	contacts map[string]map[string]*remoteResource // by bare JID, then resource
	n        int
}

// remoteResource is what a remote contact's resource announced to one
// account.
type remoteResource struct {
	ver   string             // node#ver of its <c/>
	caps  *xmlstream.Element // its <c/>
	nodes []string           // the nodes it asked for; nil while unknown or when it is no subscriber
	// sent is true once the last items of the nodes it asked for were
	// sent: its wishes may be learnt twice at once, from its presence
	// and on its subscription's approval, and it gets them once.
	sent bool
}

// contactPresence is the router filter through which PEP sees the
// presence that remote contacts send local accounts. It stops nothing.
type contactPresence struct{ m *module }

func (contactPresence) Outbound(context.Context, jid.JID, jid.JID, *xmlstream.Element) (bool, *xmlstream.Element) {
	return true, nil
}

func (f contactPresence) Inbound(_ context.Context, from, to jid.JID, st *xmlstream.Element) bool {
	if st.Name.Local == stanza.Presence && from.Resourcepart() != "" && !f.m.r.IsLocal(from.Domainpart()) {
		f.m.contactPresence(from, to.Bare(), st)
	}
	return true
}

// contactPresence records the capabilities a remote contact's resource
// announced to account, and learns in the background what they mean.
func (m *module) contactPresence(contact, account jid.JID, st *xmlstream.Element) {
	typ, c := st.Attr("type"), st.Child(caps.NS, "c")
	if ver := caps.Key(c); typ == "" && ver != "" {
		if len(m.r.AvailableResources(account)) == 0 {
			return // offline, or no such account: it will probe when it comes
		}
		if kept := m.remote.announce(account, contact, ver, c); kept != nil {
			go m.learn(account, contact, ver, kept, false)
		}
		return
	}
	if typ == "" || typ == "unavailable" || typ == "error" {
		m.remote.forget(account, contact) // it announces nothing now, or is gone
	}
}

// approved sends a new subscriber the last items it asked for (XEP-0163
// §4.3.4) once account approved its subscription: a local contact's
// available resources of non-negative priority at once, unless the
// answer to their capabilities is still to come, which sends them
// (answered);
// for a remote contact, what its resources
// asked for is learnt again, since their presence may have come before
// the contact was a subscriber.
func (m *module) approved(ctx context.Context, account, contact jid.JID) {
	if m.r.IsLocal(contact.Domainpart()) {
		for _, session := range m.r.AvailableResources(contact.Bare()) {
			if m.negative(session) {
				continue
			}
			nodes := m.Interests.Notify(session)
			unlock := m.sent.turn(session)
			send := m.sent.has(session, nodes)
			unlock()
			if send {
				m.sendLast(ctx, session, []jid.JID{account}, nodes, true)
			}
		}
		return
	}
	for _, a := range m.remote.unknown(account, contact) {
		go m.learn(account, a.contact, a.ver, a.caps, true)
	}
}

// learn finds out which nodes a remote contact's resource that announced
// c (with ver) to account asks for, if the contact is subscribed to
// account's presence, and sends it the last item of each; of on_sub
// nodes too when onSub (the subscription was just approved).
func (m *module) learn(account, contact jid.JID, ver string, c *xmlstream.Element, onSub bool) {
	ctx, cancel := timeout(context.Background())
	defer cancel()
	subscribed, err := m.Contacts.MaySeePresence(ctx, account, contact.Bare())
	if err != nil || !subscribed {
		if err != nil {
			m.Logger.Error("checking a remote contact's subscription", "jid", account.String(), "contact", contact.String(), "err", err)
		}
		return
	}
	// Asked from the account: clients answer their contacts.
	nodes, err := m.Interests.NotifyOf(ctx, account, contact, c)
	if err != nil {
		m.Logger.Debug("a remote contact's capabilities were not answered", "jid", account.String(), "contact", contact.String(), "err", err)
		return
	}
	if m.remote.learned(account, contact, ver, nodes) {
		m.sendLast(ctx, contact, []jid.JID{account}, nodes, onSub)
	}
}

// announce records that contact announced c (with ver) to account, and
// returns the copy of c it keeps when that is new: not announced before,
// and within the bounds; nil otherwise.
func (rm *remote) announce(account, contact jid.JID, ver string, c *xmlstream.Element) *xmlstream.Element {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.accounts == nil {
		rm.accounts = map[string]*remoteAccount{}
	}
	acct := rm.accounts[account.String()]
	if acct == nil {
		acct = &remoteAccount{contacts: map[string]map[string]*remoteResource{}}
		rm.accounts[account.String()] = acct
	}
	resources := acct.contacts[contact.Bare().String()]
	if resources == nil {
		resources = map[string]*remoteResource{}
		acct.contacts[contact.Bare().String()] = resources
	}
	r := resources[contact.Resourcepart()]
	switch {
	case r != nil && r.ver == ver:
		return nil
	case r == nil && (rm.n >= maxRemote || acct.n >= maxRemotePerAccount):
		return nil
	case r == nil:
		rm.n++
		acct.n++
	}
	c = c.Copy()
	resources[contact.Resourcepart()] = &remoteResource{ver: ver, caps: c}
	return c
}

// announcement is a remote resource's capabilities, to learn again.
type announcement struct {
	contact jid.JID
	ver     string
	caps    *xmlstream.Element
}

// unknown returns the resources of the remote contact whose wishes
// account has not learnt, nor sent the last items for.
func (rm *remote) unknown(account, contact jid.JID) []announcement {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	var as []announcement
	for resource, r := range rm.resources(account, contact) {
		if j, err := contact.WithResource(resource); err == nil && !r.sent {
			as = append(as, announcement{j, r.ver, r.caps})
		}
	}
	return as
}

// learned records the nodes behind ver, and reports whether the last
// items are to be sent: contact still announces ver to account, and was
// not sent them for it yet.
func (rm *remote) learned(account, contact jid.JID, ver string, nodes []string) bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	r := rm.resources(account, contact)[contact.Resourcepart()]
	if r == nil || r.ver != ver || r.sent {
		return false
	}
	r.nodes, r.sent = nodes, true
	return true
}

// resources returns what the resources of contact (bare or full)
// announced to account, by resource; the caller holds rm.mu.
func (rm *remote) resources(account, contact jid.JID) map[string]*remoteResource {
	if acct := rm.accounts[account.String()]; acct != nil {
		return acct.contacts[contact.Bare().String()]
	}
	return nil
}

// forget drops what contact announced to account.
func (rm *remote) forget(account, contact jid.JID) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	acct := rm.accounts[account.String()]
	resources := rm.resources(account, contact)
	if _, ok := resources[contact.Resourcepart()]; !ok {
		return
	}
	rm.n--
	acct.n--
	delete(resources, contact.Resourcepart())
	if len(resources) == 0 {
		delete(acct.contacts, contact.Bare().String())
	}
	if acct.n == 0 {
		delete(rm.accounts, account.String())
	}
}

// wanting returns the resources of the remote contact that asked account
// for node's notifications.
func (rm *remote) wanting(account, contact jid.JID, node string) []jid.JID {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	var to []jid.JID
	for resource, r := range rm.resources(account, contact) {
		for _, n := range r.nodes {
			if n == node {
				if j, err := contact.WithResource(resource); err == nil {
					to = append(to, j)
				}
				break
			}
		}
	}
	return to
}
