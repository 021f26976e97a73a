// Package push implements XEP-0357: Push Notifications. A client
// registers an app server (a pubsub service, normally on another server)
// and a node with <enable/>; when a message reaches the account while the
// client is away, the server publishes a notification to that node, and
// the app server wakes the device through its vendor's push service.
//
// "Away" is any of: the account has no available session and the
// message went to offline storage (every registration of the account is
// notified); the client's stream-managed session lost its connection
// and waits to be resumed (the registrations that session enabled are
// notified, also of room messages and of carbon copies); or another
// session of the account got a chat or normal message that its archive
// kept, while the device has no session (the registrations that no
// session enabled are notified: the device reads the message from the
// archive when it wakes, as with Prosody and ejabberd). Messages a
// person reads, encrypted ones, calls, invitations and room mentions are
// notified (wakingPayloads); chat states, receipts and markers are not.
// Notifications carry no message content unless configured.
//
// While a notification is on its way to the app servers, those of the
// same kind that follow (for offline messages, for one waiting session,
// for devices without a session) are folded into one, of the last
// message (fold): a burst of messages costs two notifications, not one
// each. A notification for offline messages counts those stored since
// the account was last online; one for a waiting session, those the
// session got since it began waiting.
package push

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0357 and the parts of XEP-0060 it uses.
const (
	NS              = "urn:xmpp:push:0"
	nsPubSub        = "http://jabber.org/protocol/pubsub"
	formSummary     = "urn:xmpp:push:summary"
	formPublishOpts = "http://jabber.org/protocol/pubsub#publish-options"
	nsOMEMO         = "eu.siacs.conversations.axolotl"
	nsCarbons       = "urn:xmpp:carbons:2"
	nsForward       = "urn:xmpp:forward:0"
	nsSID           = "urn:xmpp:sid:0"
	nsMUCUser       = "http://jabber.org/protocol/muc#user"
)

// MaxRegistrations is how many app servers one account may register.
const MaxRegistrations = 20

// Registration is one app server node a client asked to be notified at.
type Registration struct {
	Service string // the app server's JID
	Node    string
	// Options is the publish-options form sent with each notification
	// (serialised), often the app server's secret; nil for none.
	Options []byte
}

// ErrTooMany is returned by Store.Enable when the account has
// MaxRegistrations already.
var ErrTooMany = errors.New("push: too many registrations")

// Store keeps the registrations of accounts.
type Store interface {
	// Enable adds r to the account's registrations, replacing one with
	// the same service and node (ErrTooMany beyond MaxRegistrations).
	Enable(ctx context.Context, account jid.JID, r Registration) error
	// Disable removes the account's registrations at service: the one
	// with node, or all of them when node is "".
	Disable(ctx context.Context, account jid.JID, service, node string) error
	// List returns the account's registrations.
	List(ctx context.Context, account jid.JID) ([]Registration, error)
	// Accounts returns the accounts that have registrations.
	Accounts(ctx context.Context) ([]jid.JID, error)
}

// Config is what the module needs.
type Config struct {
	Store Store
	// IncludeSender and IncludeBody put the message's sender and body in
	// the notification's summary; both off keeps the app server (and
	// the phone vendor behind it) from reading messages.
	IncludeSender, IncludeBody bool
	// Changed, when set, is told of each account whose registrations
	// changed: a cluster has its other nodes Forget it.
	Changed func(account jid.JID)
	Logger  *slog.Logger
}

// timeout bounds a store operation and the app server's answer.
const timeout = 30 * time.Second

// Module is push notifications for one router.
type Module struct {
	r   *router.Router
	cfg Config
	log *slog.Logger

	// mu is taken before wakeMu, never after (Waiting).
	mu       sync.Mutex
	sessions map[string][]Registration // by full JID: what each session enabled

	registered registered

	// waking holds, by wakeKey, the notifications under way and what
	// is folded into the next (fold); unread counts, by account, the
	// messages stored for it since it was last online (storedOffline),
	// and by full JID those a session got since it began waiting
	// (Waiting).
	wakeMu sync.Mutex
	waking map[string]wake
	unread map[string]int

	// turns makes one account's notifications go one after the other,
	// each seeing the registrations the one before left (inOrder); by
	// bare JID, while any are under way.
	turnsMu sync.Mutex
	turns   map[string]*turn
}

// turn is one account's notifications under way: their order, and how
// many wait for it.
type turn struct {
	sync.Mutex
	waiting int
}

// inOrder runs f, a notification of account's, after the ones before it;
// other accounts' do not wait for them.
func (m *Module) inOrder(account jid.JID, f func()) {
	key := account.String()
	m.turnsMu.Lock()
	t := m.turns[key]
	if t == nil {
		t = &turn{}
		m.turns[key] = t
	}
	t.waiting++
	m.turnsMu.Unlock()

	t.Lock()
	f()
	t.Unlock()

	m.turnsMu.Lock()
	if t.waiting--; t.waiting == 0 {
		delete(m.turns, key)
	}
	m.turnsMu.Unlock()
}

// Register plugs push notifications into r: the account feature, the
// enable and disable commands, and the hooks that notify.
func Register(r *router.Router, cfg Config) *Module {
	m := &Module{r: r, cfg: cfg, log: cfg.Logger, sessions: map[string][]Registration{}, turns: map[string]*turn{},
		registered: registered{store: cfg.Store, regs: map[string][]Registration{}}, waking: map[string]wake{}, unread: map[string]int{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	r.AddAccountFeature(NS)
	r.HandleIQ(router.ToAccount, "set", NS, "enable", m.enable)
	r.HandleIQ(router.ToAccount, "set", NS, "disable", m.disable)
	r.OnStoredOffline(m.storedOffline)
	r.OnAvailable(m.available)
	r.OnUnbind(m.forget)
	r.AddMessageObserver(m)
	// A removed account's registrations are gone with it (the database
	// cascades); a new account of its name must not find them here.
	r.OnRevoke(func(bare jid.JID, _, _ string) { m.changed(bare) })
	return m
}

// Forget drops what the module remembers of account's registrations,
// which another node of a cluster changed.
func (m *Module) Forget(account jid.JID) { m.registered.forget(account) }

// Load learns which accounts have registrations, so that a message to
// one of the others needs no query to know it has none. Without it, each
// account's first message after the start costs one.
func (m *Module) Load(ctx context.Context) error { return m.registered.load(ctx) }

// AccountDeleted forgets the registrations of the account bare before it
// is deleted: a new account of the same name must not wake the old one's
// devices, also while the deletion still ends its sessions (which forget
// them again).
func (m *Module) AccountDeleted(_ context.Context, bare jid.JID) error {
	m.changed(bare)
	m.resetUnread(bare)
	return nil
}

// changed drops account's remembered registrations after a change, here
// and, through Config.Changed, on the other nodes.
func (m *Module) changed(account jid.JID) {
	m.registered.forget(account)
	if m.cfg.Changed != nil {
		m.cfg.Changed(account)
	}
}

// mark is the router mark of the sessions that enabled the node at
// service, which other nodes of a cluster see too; markPrefix(service)
// begins the marks of all its nodes.
func mark(service, node string) string { return markPrefix(service) + node + "\x00" }

func markPrefix(service string) string { return marks + service + "\x00" }

// marks begins every push mark.
const marks = "push\x00"

// enable stores a registration (XEP-0357 §5) and remembers that the
// session asked for it.
func (m *Module) enable(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.From.Bare().Equal(iq.To) {
		return iq.Error(stanza.Forbidden, "only the account itself enables push notifications")
	}
	service, node, errEl := target(iq, true)
	if errEl != nil {
		return errEl
	}
	reg := Registration{Service: service.String(), Node: node}
	if f, ok := dataform.Find(iq.Payload.ChildElements(), formPublishOpts); ok {
		f.Type = "submit"
		reg.Options = f.Element().Append(nil, "")
	}
	if iq.From.Resourcepart() != "" {
		// Marked first: a message in between must not wake this device,
		// which is online.
		m.r.Mark(iq.From, mark(reg.Service, reg.Node), true)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch err := m.cfg.Store.Enable(ctx, iq.To, reg); {
	case errors.Is(err, ErrTooMany):
		return iq.Error(stanza.ResourceConstraint, "too many push registrations: disable one first")
	case err != nil:
		m.log.Error("storing a push registration", "account", iq.To.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	m.changed(iq.To)
	if iq.From.Resourcepart() != "" {
		m.mu.Lock()
		m.sessions[iq.From.String()] = append(without(m.sessions[iq.From.String()], reg.Service, reg.Node), reg)
		m.mu.Unlock()
	}
	return iq.Result(nil)
}

// disable removes registrations (XEP-0357 §6): one node, or every node at
// the service when none is named.
func (m *Module) disable(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.From.Bare().Equal(iq.To) {
		return iq.Error(stanza.Forbidden, "only the account itself disables push notifications")
	}
	service, node, errEl := target(iq, false)
	if errEl != nil {
		return errEl
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := m.cfg.Store.Disable(ctx, iq.To, service.String(), node); err != nil {
		m.log.Error("removing push registrations", "account", iq.To.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	m.changed(iq.To)
	m.unmark(iq.To, service.String(), node)
	return iq.Result(nil)
}

// unmark takes the registrations at service with node (any node when
// node is "") from what the account's sessions here enabled.
func (m *Module) unmark(account jid.JID, service, node string) {
	prefix := markPrefix(service)
	if node != "" {
		prefix = mark(service, node)
	}
	var sessions []jid.JID
	m.mu.Lock()
	for full, regs := range m.sessions {
		if strings.HasPrefix(full, account.String()+"/") {
			m.sessions[full] = without(regs, service, node)
			sessions = append(sessions, jid.MustParse(full))
		}
	}
	m.mu.Unlock()
	for _, s := range sessions {
		m.r.SetMarks(s, prefix, nil)
	}
}

// target reads the jid and node attributes of <enable/> or <disable/>;
// enable needs both.
func target(iq router.IQ, needNode bool) (service jid.JID, node string, errEl *xmlstream.Element) {
	attr, node := iq.Payload.Attr("jid"), iq.Payload.Attr("node")
	if attr == "" || needNode && node == "" {
		return jid.JID{}, "", iq.Error(stanza.BadRequest, "the app server's jid and node are required")
	}
	service, err := jid.Parse(attr)
	if err != nil {
		return jid.JID{}, "", iq.Error(stanza.JIDMalformed, "the app server's jid is not a valid JID")
	}
	return service, node, nil
}

// without returns regs without those at service with node (any node
// when node is "").
func without(regs []Registration, service, node string) []Registration {
	var kept []Registration
	for _, r := range regs {
		if r.Service != service || node != "" && r.Node != node {
			kept = append(kept, r)
		}
	}
	return kept
}

// forget drops what a session that ended had enabled, and its count:
// its registrations stay stored, for messages that arrive while the
// account is offline.
func (m *Module) forget(session jid.JID) {
	m.mu.Lock()
	delete(m.sessions, session.String())
	m.mu.Unlock()
	m.resetUnread(session)
}

// storedOffline notifies every registration of the account of a message
// stored while it had no available session; a burst of them is folded
// (fold), and the notification counts the messages stored since the
// account was last online (unread). A message an ended session gave back
// was notified on its first way (Received, Waiting). An account known
// to have no registration costs a map lookup.
func (m *Module) storedOffline(ctx context.Context, to jid.JID, st *xmlstream.Element) {
	if !important(st) || router.Rerouted(ctx) {
		return
	}
	account := to.Bare()
	if regs, cached := m.registered.cached(account); cached && len(regs) == 0 {
		return
	}
	m.countUnread(account, 1)
	m.fold(wakeKey("offline", account), account, wake{st: st, count: 1}, func(ctx context.Context, w wake) {
		regs, err := m.registered.get(ctx, account)
		if err != nil {
			m.log.Error("reading push registrations", "account", account.String(), "err", err)
			return
		}
		m.notify(ctx, account, regs, w.st, max(m.unreadOf(account), w.count))
	})
}

// Waiting notifies the registrations a session enabled of the messages it
// holds while its connection is lost (c2s.Config.Waiting); a burst of
// them is folded (fold), and the notification counts the messages the
// session got since it began waiting (unread, until Resumed or forget).
// c2s calls it, and Resumed, under the session's lock, which orders them:
// both take only mu and wakeMu, and the notification goes out on its own
// goroutine.
func (m *Module) Waiting(session jid.JID, msgs []*xmlstream.Element) {
	var last *xmlstream.Element
	n := 0
	for _, st := range msgs {
		if important(st) {
			last, n = st, n+1
		}
	}
	if last == nil {
		return
	}
	// Counted under mu: a session that ended (forget) is counted no more.
	m.mu.Lock()
	enabled := len(m.sessions[session.String()]) > 0
	if enabled {
		m.countUnread(session, n)
	}
	m.mu.Unlock()
	if !enabled {
		return
	}
	m.fold(wakeKey("waiting", session), session.Bare(), wake{st: last, count: n}, func(ctx context.Context, w wake) {
		// What the session enabled as the notifications before left it:
		// one may have had a registration refused.
		m.notify(ctx, session.Bare(), m.enabled(session), w.st, max(m.unreadOf(session), w.count))
	})
}

// Resumed forgets the count of session, which was resumed and waits no
// more (c2s.Config.Resumed).
func (m *Module) Resumed(session jid.JID) { m.resetUnread(session) }

// enabled returns the registrations session enabled.
func (m *Module) enabled(session jid.JID) []Registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[session.String()]
}

// Sent does nothing: a message the account sends wakes none of its
// devices.
func (m *Module) Sent(context.Context, jid.JID, *xmlstream.Element) {}

// Received notifies the registrations no session of the account enabled
// of a chat or normal message another session got: they are devices
// without a session, which read it from the archive when they wake, so
// only messages the account's archive kept count (they carry its
// <stanza-id/>), and not those given back or copied (RouteArchived). A
// burst of them is folded (fold), the notification counting the messages
// folded into it. An account known to have no registration costs a map
// lookup.
func (m *Module) Received(ctx context.Context, to jid.JID, st *xmlstream.Element, _ []jid.JID) {
	if typ := stanza.Type(st); typ != "chat" && typ != "normal" || !important(st) || router.Rerouted(ctx) {
		return
	}
	regs, cached := m.registered.cached(to)
	if cached && len(regs) == 0 {
		return
	}
	// Which devices have a session is taken now, not when the
	// notification goes out: one that leaves meanwhile got the message.
	w := wake{st: st, count: 1, marked: m.r.MarksOf(to, marks)}
	if cached && len(away(regs, w.marked)) == 0 {
		return // every device has a session
	}
	if !archivedFor(st, to) {
		return
	}
	if from, err := jid.Parse(st.Attr("from")); err == nil && from.Bare().Equal(to) {
		return // the account's own message to itself
	}
	m.fold(wakeKey("archived", to), to, w, func(ctx context.Context, w wake) {
		regs, err := m.registered.get(ctx, to)
		if err != nil {
			m.log.Error("reading push registrations", "account", to.String(), "err", err)
			return
		}
		m.notify(ctx, to, away(regs, w.marked), w.st, w.count)
	})
}

// away returns those of regs that no session enabled, by its marks: the
// devices that have no session.
func away(regs []Registration, marked map[string]bool) []Registration {
	var away []Registration
	for _, reg := range regs {
		if !marked[mark(reg.Service, reg.Node)] {
			away = append(away, reg)
		}
	}
	return away
}

// archivedFor reports whether st carries the <stanza-id/> of account's
// archive (XEP-0359), which the archive adds to what it keeps.
func archivedFor(st *xmlstream.Element, account jid.JID) bool {
	for _, c := range st.ChildElements() {
		if c.Name.Space == nsSID && c.Name.Local == "stanza-id" && c.Attr("by") == account.String() {
			return true
		}
	}
	return false
}

// wakingPayloads are the payloads of a message that deserve waking a
// device besides a body with text (hasBody), which a person reads: an
// encrypted message, an incoming call, an invitation, and a mention in a
// room the user is not in (XEP-0452).
var wakingPayloads = [][2]string{
	{nsOMEMO, "encrypted"},
	{"urn:xmpp:omemo:2", "encrypted"},
	{"urn:xmpp:openpgp:0", "openpgp"},
	{"jabber:x:encrypted", "x"},
	{"urn:xmpp:jingle-message:0", "propose"},
	{"jabber:x:conference", "x"},
	{"urn:xmpp:mmn:0", "mentions"},
}

// important reports whether st deserves waking a device: a message with
// one of the wakingPayloads, or a carbon copy of one the user received on
// another device. Chat states, receipts and markers do not, nor a body
// with no text (nothing to show), nor a room's subject change, which
// the room also sends to each occupant that joins: in a groupchat
// message a <subject/> makes it one even with a body, as with Prosody.
func important(st *xmlstream.Element) bool {
	if st.Name.Local != stanza.Message || stanza.IsError(st) {
		return false
	}
	st = copied(st)
	if stanza.Type(st) == "groupchat" && st.Child(stanza.NSClient, "subject") != nil {
		return false
	}
	if hasBody(st) {
		return true
	}
	for _, p := range wakingPayloads {
		if st.Child(p[0], p[1]) != nil {
			return true
		}
	}
	// An invitation a room relays (XEP-0045 §7.8.2) has no body.
	if x := st.Child(nsMUCUser, "x"); x != nil && x.Child(nsMUCUser, "invite") != nil {
		return true
	}
	return false
}

// copied returns the message st is a carbon copy of, one the user
// received on another device (XEP-0280), or st itself. Only the user's
// own account sends carbon copies: one from anybody else is a forgery
// (XEP-0280 §11), whose message is not taken, so that its sender is not
// believed.
func copied(st *xmlstream.Element) *xmlstream.Element {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil || from.Resourcepart() != "" {
		return st
	}
	if to, err := jid.Parse(st.Attr("to")); err != nil || !to.Bare().Equal(from) {
		return st
	}
	if rc := st.Child(nsCarbons, "received"); rc != nil {
		if fwd := rc.Child(nsForward, "forwarded"); fwd != nil && fwd.Child(stanza.NSClient, "message") != nil {
			return fwd.Child(stanza.NSClient, "message")
		}
	}
	return st
}

// hasBody reports whether st has a <body/> with more than white space,
// in any of its languages.
func hasBody(st *xmlstream.Element) bool { return body(st) != nil }

// body returns the first <body/> of st with more than white space, in
// any of its languages, or nil.
func body(st *xmlstream.Element) *xmlstream.Element {
	for _, c := range st.ChildElements() {
		if c.Name.Space == stanza.NSClient && c.Name.Local == "body" && strings.TrimSpace(c.Text()) != "" {
			return c
		}
	}
	return nil
}

// notify publishes one notification for st, the last of count messages,
// to each of regs, at once, so that an app server slow to answer holds
// up no other device's. One that refuses it for good (refused) loses the
// registration, as XEP-0357 §8 suggests.
func (m *Module) notify(ctx context.Context, account jid.JID, regs []Registration, st *xmlstream.Element, count int) {
	var wg sync.WaitGroup
	for _, reg := range regs {
		service, err := jid.Parse(reg.Service)
		if err != nil {
			continue
		}
		wg.Go(func() {
			_, err := m.r.Query(ctx, "set", account, service, m.publish(reg, st, count))
			if err == nil {
				return
			}
			m.log.Info("push notification refused", "account", account.String(), "service", reg.Service, "err", err)
			if refused(err) {
				if err := m.cfg.Store.Disable(ctx, account, reg.Service, reg.Node); err != nil {
					m.log.Error("removing a refused push registration", "account", account.String(), "err", err)
				}
				m.changed(account)
				m.unmark(account, reg.Service, reg.Node)
			}
		})
	}
	wg.Wait()
}

// refused reports whether err, the failure of a publish, is the app
// server's refusal for good (XEP-0357 §7.1): an error of type auth, of
// type modify (the same request would get the same answer), or of type
// cancel but for those that say the app server could not be reached
// (federation trouble, a restart), which pass, as does type wait.
func refused(err error) bool {
	var qe *router.QueryError
	if !errors.As(err, &qe) {
		return false
	}
	switch qe.Condition {
	case stanza.RemoteServerNotFound, stanza.RemoteServerTimeout, stanza.ServiceUnavailable, stanza.InternalServerError, stanza.RecipientUnavailable:
		return false
	}
	return qe.Type == "cancel" || qe.Type == "auth" || qe.Type == "modify"
}

// publish is the pubsub publish of a notification of count messages, st
// the last (XEP-0357 §7). The sender and body of a carbon copy are those
// of the message copied, not of the user's own account.
func (m *Module) publish(reg Registration, st *xmlstream.Element, count int) *xmlstream.Element {
	st = copied(st)
	summary := dataform.Form{Fields: []dataform.Field{{Var: "FORM_TYPE", Values: []string{formSummary}}, {Var: "message-count", Values: []string{strconv.Itoa(count)}}}}
	if m.cfg.IncludeSender {
		summary.Fields = append(summary.Fields, dataform.Field{Var: "last-message-sender", Values: []string{st.Attr("from")}})
	}
	if b := body(st); b != nil && m.cfg.IncludeBody {
		summary.Fields = append(summary.Fields, dataform.Field{Var: "last-message-body", Values: []string{b.Text()}})
	}
	summary.Type = "submit"
	item := xmlstream.NewElement(nsPubSub, "item").AddChild(xmlstream.NewElement(NS, "notification").AddChild(summary.Element()))
	ps := xmlstream.NewElement(nsPubSub, "pubsub").AddChild(xmlstream.NewElement(nsPubSub, "publish", "node", reg.Node).AddChild(item))
	if reg.Options != nil {
		if opts, err := xmlstream.ParseElement(reg.Options, xmlstream.Limits{}); err == nil {
			ps.AddChild(xmlstream.NewElement(nsPubSub, "publish-options").AddChild(opts))
		}
	}
	return ps
}
