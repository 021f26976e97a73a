// Package motd is the message of the day of each host (XEP-0133 §4.24,
// §4.26): the administrators set it, and each account gets it once, as a
// headline from its host, after the initial presence of its next
// session.
package motd

import (
	"context"
	"log/slog"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Store keeps each host's message and who got it.
type Store interface {
	// Get returns host's message, "" when it has none.
	Get(ctx context.Context, host string) (string, error)
	// Set replaces host's message; nobody has got the new one.
	Set(ctx context.Context, host, body string) error
	// Delete removes host's message.
	Delete(ctx context.Context, host string) error
	// Deliver records that account got host's current message, and
	// reports whether it had not before.
	Deliver(ctx context.Context, account jid.JID) (first bool, err error)
}

// Module delivers the messages and keeps each host's in memory, so that
// a login costs nothing while a host has none.
type Module struct {
	store Store
	r     *router.Router
	log   *slog.Logger
	// Changed, when set, is told of each host whose message changed: a
	// cluster has its other nodes Forget it.
	Changed func(host string)

	mu      sync.Mutex
	cached  map[string]string // by host; absent: not read yet
	changes int               // Forget calls: a read that saw one caches nothing
}

// New returns the module, which gives each session's account the message
// after its initial presence.
func New(r *router.Router, store Store, log *slog.Logger) *Module {
	m := &Module{store: store, r: r, log: log, cached: map[string]string{}}
	r.OnInitialPresence(m.deliver)
	return m
}

// Set makes body host's message of the day, and sends it at once to the
// accounts online on this node (XEP-0133 §4.24); the others get it at
// their next login.
func (m *Module) Set(ctx context.Context, host, body string) error {
	if err := m.store.Set(ctx, host, body); err != nil {
		return err
	}
	m.changed(host)
	for _, account := range m.r.OnlineAccounts(host) {
		m.send(ctx, account, body)
	}
	return nil
}

// Delete removes host's message of the day.
func (m *Module) Delete(ctx context.Context, host string) error {
	if err := m.store.Delete(ctx, host); err != nil {
		return err
	}
	m.changed(host)
	return nil
}

// Forget drops the cached message of host, which another node changed.
func (m *Module) Forget(host string) {
	m.mu.Lock()
	delete(m.cached, host)
	m.changes++
	m.mu.Unlock()
}

func (m *Module) changed(host string) {
	m.Forget(host)
	if m.Changed != nil {
		m.Changed(host)
	}
}

// current returns host's message, read once and then cached.
func (m *Module) current(ctx context.Context, host string) (string, error) {
	m.mu.Lock()
	body, ok := m.cached[host]
	changes := m.changes
	m.mu.Unlock()
	if ok {
		return body, nil
	}
	body, err := m.store.Get(ctx, host)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	// A message changed while this one was read may be newer than it:
	// the next login reads again.
	if m.changes == changes {
		m.cached[host] = body
	}
	m.mu.Unlock()
	return body, nil
}

// deliver sends session the message of its host, unless its account got
// it already.
func (m *Module) deliver(ctx context.Context, session jid.JID) {
	body, err := m.current(ctx, session.Domainpart())
	if err != nil {
		m.log.Error("message of the day", "jid", session.String(), "err", err)
		return
	}
	if body != "" {
		m.send(ctx, session, body)
	}
}

// send sends to, a session or an account, the message body of its host,
// unless its account got it already.
func (m *Module) send(ctx context.Context, to jid.JID, body string) {
	first, err := m.store.Deliver(ctx, to.Bare())
	if err != nil {
		m.log.Error("message of the day", "jid", to.String(), "err", err)
		return
	}
	if !first {
		return
	}
	msg := xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", to.Domainpart(), "to", to.String(),
		"type", "headline", "id", stanza.NewID())
	msg.AddChild(xmlstream.NewElement(stanza.NSClient, "subject").AddText("Message of the day"))
	msg.AddChild(xmlstream.NewElement(stanza.NSClient, "body").AddText(body))
	m.r.Route(ctx, msg)
}
