package router

import (
	"context"
	"sort"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Target says whom an IQ handler answers for.
type Target int

const (
	// ToServer is an IQ addressed to a served domain.
	ToServer Target = iota
	// ToAccount is an IQ addressed to an account's bare JID, or without
	// 'to', which means the sender's own account (RFC 6120 §10.3.3).
	ToAccount
)

// IQ is a request an IQ handler answers.
type IQ struct {
	From, To jid.JID
	// Type is "get" or "set".
	Type string
	// Payload is the IQ's only child element.
	Payload *xmlstream.Element
	// Stanza is the whole IQ.
	Stanza *xmlstream.Element
}

// Result returns the result answering the IQ with payload (may be nil).
func (iq IQ) Result(payload *xmlstream.Element) *xmlstream.Element {
	res := stanza.Result(iq.Stanza, payload)
	res.SetAttr("from", iq.To.String())
	return res
}

// Error returns the error answering the IQ.
func (iq IQ) Error(condition, text string) *xmlstream.Element {
	res := stanza.ErrorReply(iq.Stanza, condition, text)
	res.SetAttr("from", iq.To.String())
	return res
}

// IQHandler answers one IQ with a result or an error stanza.
type IQHandler func(ctx context.Context, iq IQ) *xmlstream.Element

type iqKey struct {
	target Target
	typ    string
	space  string
	local  string
}

type iqHandlers struct {
	mu                sync.RWMutex
	byKey             map[iqKey]IQHandler
	features          map[string]bool
	accountFeatures   map[string]bool
	accountIdentities []Identity
	accountItems      []ItemLister
	accountNodes      []AccountNodeInfo
	serverNodes       []NodeHandler
}

// DiscoItem is an item of service discovery (XEP-0030 §4.1).
type DiscoItem struct {
	JID  jid.JID
	Node string
	Name string // may be empty
}

// NodeHandler answers service discovery of the server's nodes that a
// module owns (XEP-0030 §3.2, §4.2), such as its list of ad-hoc commands.
type NodeHandler interface {
	// NodeInfo returns node's identities and features as iq's sender may
	// see them; ok is false when node is not the module's, or hidden from
	// the sender.
	NodeInfo(ctx context.Context, iq IQ, node string) (ids []Identity, features []string, ok bool)
	// NodeItems returns node's items likewise.
	NodeItems(ctx context.Context, iq IQ, node string) (items []DiscoItem, ok bool)
}

// DiscoInfo is what disco#info tells of a node (XEP-0030 §3.2): its
// identities, features, and forms of extended information (XEP-0128).
type DiscoInfo struct {
	Identities []Identity
	Features   []string
	Forms      []*xmlstream.Element
}

// AccountNodeInfo answers disco#info on node of the account iq is
// addressed to, such as a PEP node (XEP-0060 §5.3); ok is false when
// node is not the module's, or is hidden from iq's sender.
type AccountNodeInfo func(ctx context.Context, iq IQ, node string) (info DiscoInfo, ok bool, err error)

// ItemLister lists the items of an account that iq, a disco#items get
// without a node addressed to the account, may see.
type ItemLister func(ctx context.Context, iq IQ) ([]DiscoItem, error)

// Identity is a service discovery identity (XEP-0030 §3.1).
type Identity struct {
	Category, Type string
	Name           string // may be empty
}

func newIQHandlers() iqHandlers {
	return iqHandlers{byKey: map[iqKey]IQHandler{}, features: map[string]bool{}, accountFeatures: map[string]bool{}}
}

// HandleIQ registers h for IQs of type typ ("get" or "set") whose payload
// is {space}local, addressed to target. Registering a key twice panics:
// that is a wiring mistake.
func (r *Router) HandleIQ(target Target, typ, space, local string, h IQHandler) {
	k := iqKey{target, typ, space, local}
	r.iq.mu.Lock()
	defer r.iq.mu.Unlock()
	if _, dup := r.iq.byKey[k]; dup {
		panic("router: IQ handler registered twice for " + typ + " {" + space + "}" + local)
	}
	r.iq.byKey[k] = h
}

// AddFeature announces a service discovery feature of the server (XEP-0030).
func (r *Router) AddFeature(ns string) {
	r.iq.mu.Lock()
	defer r.iq.mu.Unlock()
	r.iq.features[ns] = true
}

// AddAccountFeature announces a service discovery feature of every
// account's bare JID (XEP-0030), such as the message archive.
func (r *Router) AddAccountFeature(ns string) {
	r.iq.mu.Lock()
	defer r.iq.mu.Unlock()
	r.iq.accountFeatures[ns] = true
}

// AddAccountIdentity announces an identity that every account's bare JID
// has besides account/registered, such as pubsub/pep (XEP-0163).
func (r *Router) AddAccountIdentity(id Identity) {
	r.iq.mu.Lock()
	defer r.iq.mu.Unlock()
	r.iq.accountIdentities = append(r.iq.accountIdentities, id)
}

// AddAccountItems adds f to the listers of every account's disco#items,
// such as its PEP nodes (XEP-0163).
func (r *Router) AddAccountItems(f ItemLister) {
	r.iq.mu.Lock()
	defer r.iq.mu.Unlock()
	r.iq.accountItems = append(r.iq.accountItems, f)
}

// AddAccountNodes has f answer disco#info on the nodes of every
// account.
func (r *Router) AddAccountNodes(f AccountNodeInfo) {
	r.iq.mu.Lock()
	defer r.iq.mu.Unlock()
	r.iq.accountNodes = append(r.iq.accountNodes, f)
}

// AccountNodes returns the handlers of AddAccountNodes.
func (r *Router) AccountNodes() []AccountNodeInfo {
	r.iq.mu.RLock()
	defer r.iq.mu.RUnlock()
	return append([]AccountNodeInfo(nil), r.iq.accountNodes...)
}

// AddServerNodes has h answer service discovery of the server's nodes.
func (r *Router) AddServerNodes(h NodeHandler) {
	r.iq.mu.Lock()
	defer r.iq.mu.Unlock()
	r.iq.serverNodes = append(r.iq.serverNodes, h)
}

// ServerNodes returns the handlers of AddServerNodes.
func (r *Router) ServerNodes() []NodeHandler {
	r.iq.mu.RLock()
	defer r.iq.mu.RUnlock()
	return append([]NodeHandler(nil), r.iq.serverNodes...)
}

// AccountItems returns the items listers of AddAccountItems.
func (r *Router) AccountItems() []ItemLister {
	r.iq.mu.RLock()
	defer r.iq.mu.RUnlock()
	return append([]ItemLister(nil), r.iq.accountItems...)
}

// AccountIdentities returns the identities announced for accounts, in the
// order they were added.
func (r *Router) AccountIdentities() []Identity {
	r.iq.mu.RLock()
	defer r.iq.mu.RUnlock()
	return append([]Identity(nil), r.iq.accountIdentities...)
}

// Features returns the server's announced features, sorted.
func (r *Router) Features() []string { return r.sortedFeatures(r.iq.features) }

// AccountFeatures returns the features announced for accounts, sorted.
func (r *Router) AccountFeatures() []string { return r.sortedFeatures(r.iq.accountFeatures) }

func (r *Router) sortedFeatures(set map[string]bool) []string {
	r.iq.mu.RLock()
	defer r.iq.mu.RUnlock()
	fs := make([]string, 0, len(set))
	for f := range set {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

// handleIQ runs the handler registered for an IQ the server answers
// itself (RFC 6120 §8.2.3: an IQ without a handler gets
// service-unavailable). Errors come from to, as a handler's do: for an
// IQ without 'to', the sender's bare JID (RFC 6120 §8.1.2.1), not the
// domain.
func (r *Router) handleIQ(ctx context.Context, target Target, from, to jid.JID, st *xmlstream.Element) {
	typ := st.Attr("type")
	if typ != "get" && typ != "set" {
		// Results and errors answer the server's own queries; any other is
		// dropped.
		r.answered(from, st)
		return
	}
	iq := IQ{From: from, To: to, Type: typ, Stanza: st}
	children := st.ChildElements()
	if len(children) != 1 {
		r.Route(ctx, iq.Error(stanza.BadRequest, "an IQ get or set must have exactly one child element"))
		return
	}
	iq.Payload = children[0]
	r.iq.mu.RLock()
	h := r.iq.byKey[iqKey{target, typ, iq.Payload.Name.Space, iq.Payload.Name.Local}]
	r.iq.mu.RUnlock()
	if h == nil {
		r.Route(ctx, iq.Error(stanza.ServiceUnavailable, ""))
		return
	}
	reply := h(ctx, iq)
	if reply != nil {
		r.Route(ctx, reply)
	}
}
