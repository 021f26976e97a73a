// Package private implements XEP-0049: Private XML Storage
// (jabber:iq:private), where a client keeps XML only its own account can
// read, such as bookmarks (XEP-0048) or client preferences.
//
// Data is keyed by the namespace of the stored elements, as XEP-0049
// describes: a set replaces everything stored under that namespace, and a
// get of <foo xmlns='ns'/> returns whatever is stored under 'ns' (or the
// empty element asked for, when nothing is). A set may carry several
// elements if they share one namespace. A namespace with a [Handler] is
// kept by it instead: XEP-0048 bookmarks live in PEP (package bookmarks).
//
// Errors, following XEP-0049 §2.3 and §3:
//
//   - A get or set addressed to another account: forbidden.
//   - A query without a child element, or a child in a namespace that
//     cannot be private data (none, jabber:client, jabber:server,
//     jabber:iq:private): not-acceptable. The wider reservation of
//     'jabber:*', 'http://jabber.org/*' and 'vcard-temp' that the XEP
//     makes optional is not enforced, so no existing client is refused.
//   - A namespace longer than 1024 bytes: not-acceptable.
//   - A get naming more than one element, or a set mixing namespaces:
//     bad-request; so is a set a Handler cannot take (ErrMalformed).
//   - A set that would make the account's private data, over all
//     namespaces, larger than Config.MaxBytes (serialised): not-acceptable,
//     and nothing changes. The limit is per account, not per namespace, so
//     that many namespaces cannot add up to unbounded storage.
package private

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0049.
const NS = "jabber:iq:private"

// ErrTooLarge is returned, wrapped, by Store.Set and Handler.Set when
// the account's data would exceed a limit.
var ErrTooLarge = errors.New("private storage limit exceeded")

// ErrMalformed is returned, wrapped, by Handler.Set when the elements
// are not the data its namespace holds; the set is refused with
// bad-request and nothing changes.
var ErrMalformed = errors.New("malformed private data")

// storeTimeout bounds one database call, so that a slow database fails
// the one IQ instead of holding the session that sent it.
const storeTimeout = 10 * time.Second

// Store keeps the private XML of accounts, one opaque value per namespace.
type Store interface {
	// Get returns what is stored for username@domain under namespace; an
	// error wrapping storage.ErrNotFound when nothing is.
	Get(ctx context.Context, domain, username, namespace string) ([]byte, error)
	// Set stores data under namespace for username@domain, replacing what
	// was there, unless the account's data in all namespaces would then
	// take more than limit bytes: that is an error wrapping ErrTooLarge
	// and nothing changes. An unknown account is an error wrapping
	// storage.ErrNotFound.
	Set(ctx context.Context, domain, username, namespace string, data []byte, limit int) error
	// Delete removes what is stored for username@domain under namespace.
	Delete(ctx context.Context, domain, username, namespace string) error
	// Accounts returns the accounts with data under namespace.
	Accounts(ctx context.Context, namespace string) ([]jid.JID, error)
}

// Handler keeps the private data of one namespace elsewhere than the
// Store: XEP-0048 bookmarks (storage:bookmarks) are XEP-0402's, in PEP.
type Handler interface {
	// Get returns the account's data, the children of the <query/> that
	// answers a get; ok is false when the handler has none, not even an
	// empty list, and the Store's data (stored before the handler was
	// there) is the answer.
	Get(ctx context.Context, account jid.JID) (elems []*xmlstream.Element, ok bool, err error)
	// Set replaces the account's data with elems.
	Set(ctx context.Context, account jid.JID, elems []*xmlstream.Element) error
}

// Config is what the module needs.
type Config struct {
	// Store keeps the data.
	Store Store
	// Handlers keep the data of their namespaces instead of the Store.
	// The Store's data of such a namespace, from before there was a
	// handler, is given to the handler by MoveToHandlers, or at a get that
	// finds the handler without data.
	Handlers map[string]Handler
	// MaxBytes is the most private data, serialised, one account may keep
	// over all namespaces.
	MaxBytes int
	// Logger receives storage failures; nil discards them.
	Logger *slog.Logger
}

// Module serves private storage.
type Module struct {
	Config
}

// Register answers private storage gets and sets on r and announces the
// jabber:iq:private feature.
func Register(r *router.Router, cfg Config) *Module {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Module{cfg}
	r.AddFeature(NS)
	r.HandleIQ(router.ToAccount, "get", NS, "query", m.get)
	r.HandleIQ(router.ToAccount, "set", NS, "query", m.set)
	return m
}

// MoveToHandlers gives the handlers the Store's data of their
// namespaces, stored before there were handlers or imported since, when
// they have none for the account, and deletes it from the Store. It
// returns how many accounts' data moved; an account whose data a handler
// refuses keeps it, with a warning logged.
func (m *Module) MoveToHandlers(ctx context.Context) (int, error) {
	moved := 0
	for ns := range m.Handlers {
		accounts, err := m.Store.Accounts(ctx, ns)
		if err != nil {
			return moved, fmt.Errorf("private: move %s: %w", ns, err)
		}
		for _, account := range accounts {
			// A handler that has data already keeps it: what private
			// storage holds is older, and goes, lest it come back when
			// the handler's data is removed.
			_, has, err := m.Handlers[ns].Get(ctx, account)
			if err == nil && has {
				m.dropStored(ctx, account, ns)
				continue
			}
			var q *xmlstream.Element
			if err == nil {
				q, err = m.stored(ctx, account, ns)
			}
			if err == nil && q != nil {
				err = m.move(ctx, account, ns, q)
			}
			if err != nil {
				m.Logger.Warn("private data kept in private storage", "jid", account.String(), "namespace", ns, "err", err)
				continue
			}
			moved++
		}
	}
	return moved, nil
}

// stored returns the Store's <query/> of account under ns, or nil.
func (m *Module) stored(ctx context.Context, account jid.JID, ns string) (*xmlstream.Element, error) {
	data, err := m.Store.Get(ctx, account.Domainpart(), account.Localpart(), ns)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return xmlstream.ParseStored(data)
}

// move gives q's children to ns's handler and deletes them from the
// Store.
func (m *Module) move(ctx context.Context, account jid.JID, ns string, q *xmlstream.Element) error {
	if err := m.Handlers[ns].Set(ctx, account, q.ChildElements()); err != nil {
		return err
	}
	return m.Store.Delete(ctx, account.Domainpart(), account.Localpart(), ns)
}

// dropStored deletes the Store's data of account under ns, which the
// handler of ns has superseded, so that it cannot come back when the
// handler's data is removed. A failure is logged: the set it follows is
// done.
func (m *Module) dropStored(ctx context.Context, account jid.JID, ns string) {
	if err := m.Store.Delete(ctx, account.Domainpart(), account.Localpart(), ns); err != nil {
		m.Logger.Warn("superseded private data kept in private storage", "jid", account.String(), "namespace", ns, "err", err)
	}
}

// maxNamespaceBytes bounds the namespace data is kept under: the
// database's index takes a few thousand bytes, and no namespace in use
// comes near it.
const maxNamespaceBytes = 1024

// request checks the parts of an IQ that gets and sets share and returns
// the namespace of its elements, or the error answering it.
func request(iq router.IQ) (ns string, elems []*xmlstream.Element, reply *xmlstream.Element) {
	if !iq.To.Equal(iq.From.Bare()) {
		return "", nil, iq.Error(stanza.Forbidden, "private storage belongs to its own account only")
	}
	elems = iq.Payload.ChildElements()
	if len(elems) == 0 {
		return "", nil, iq.Error(stanza.NotAcceptable, "the query names no namespace")
	}
	ns = elems[0].Name.Space
	switch ns {
	case "", stanza.NSClient, stanza.NSServer, NS:
		return "", nil, iq.Error(stanza.NotAcceptable, "namespace '"+ns+"' cannot hold private data")
	}
	if len(ns) > maxNamespaceBytes {
		return "", nil, iq.Error(stanza.NotAcceptable, "a namespace of private data has at most "+strconv.Itoa(maxNamespaceBytes)+" bytes")
	}
	for _, e := range elems[1:] {
		if e.Name.Space != ns {
			return "", nil, iq.Error(stanza.BadRequest, "all elements must be in one namespace")
		}
	}
	return ns, elems, nil
}

func (m *Module) get(ctx context.Context, iq router.IQ) *xmlstream.Element {
	ns, elems, reply := request(iq)
	if reply != nil {
		return reply
	}
	if len(elems) > 1 {
		return iq.Error(stanza.BadRequest, "a get asks for one element")
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	h := m.Handlers[ns]
	if h != nil {
		got, ok, err := h.Get(ctx, iq.To)
		if err != nil {
			m.Logger.Error("loading private data", "jid", iq.To.String(), "namespace", ns, "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		if ok {
			if len(got) == 0 {
				got = []*xmlstream.Element{xmlstream.NewElement(ns, elems[0].Name.Local)}
			}
			q := xmlstream.NewElement(NS, "query")
			for _, e := range got {
				q.AddChild(e)
			}
			return iq.Result(q)
		}
	}
	// What is stored is the whole <query/> of the set, so it is the answer.
	q, err := m.stored(ctx, iq.To, ns)
	switch {
	case err != nil:
		m.Logger.Error("loading private data", "jid", iq.To.String(), "namespace", ns, "err", err)
		return iq.Error(stanza.InternalServerError, "")
	case q == nil:
		q = xmlstream.NewElement(NS, "query")
		q.AddChild(xmlstream.NewElement(ns, elems[0].Name.Local))
		return iq.Result(q)
	}
	if h != nil {
		// Data from before the handler, or imported since: it takes it over.
		if err := m.move(ctx, iq.To, ns, q); err != nil {
			m.Logger.Error("moving private data to its handler", "jid", iq.To.String(), "namespace", ns, "err", err)
		}
	}
	return iq.Result(q)
}

func (m *Module) set(ctx context.Context, iq router.IQ) *xmlstream.Element {
	ns, elems, reply := request(iq)
	if reply != nil {
		return reply
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	var err error
	limit := "private data is limited to " + strconv.Itoa(m.MaxBytes) + " bytes per account"
	if h := m.Handlers[ns]; h != nil {
		err = h.Set(ctx, iq.To, elems)
		limit = "the data exceeds the account's limits"
		if err == nil {
			m.dropStored(ctx, iq.To, ns)
		}
	} else {
		// Store a <query/> holding only the elements, without any text
		// between them: it is the result of a later get as it stands.
		q := xmlstream.NewElement(NS, "query")
		for _, e := range elems {
			q.AddChild(e)
		}
		err = m.Store.Set(ctx, iq.To.Domainpart(), iq.To.Localpart(), ns, q.Append(nil, ""), m.MaxBytes)
	}
	switch {
	case errors.Is(err, ErrTooLarge):
		return iq.Error(stanza.NotAcceptable, limit)
	case errors.Is(err, ErrMalformed):
		return iq.Error(stanza.BadRequest, err.Error())
	case err != nil:
		m.Logger.Error("storing private data", "jid", iq.To.String(), "namespace", ns, "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	return iq.Result(nil)
}
