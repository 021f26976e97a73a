// Package offline implements XEP-0160: Best Practices for Handling Offline
// Messages, with XEP-0203 delay stamps and the storage hints of XEP-0334.
//
// A message of type normal or chat to a local account that has no resource
// to take it (RFC 6121 §8.5.2.2.1) is committed to the Store before Store
// returns, so that a stanza the server acknowledges afterwards is durable
// (DESIGN.md §4). When the account next sends initial presence with a
// non-negative priority, the stored messages are handed to that session in
// the order they were stored, each with a <delay/> from the server.
//
// What is not stored, and what the sender then gets:
//
//   - A message with <no-store xmlns='urn:xmpp:hints'/>: XEP-0334 says it
//     is not to be kept, not even for later delivery. The sender gets
//     service-unavailable, as RFC 6121 §8.5.2.2.1 requires for a message
//     the server neither delivers nor stores. no-store wins over <store/>.
//   - A message that carries nothing but a chat state (XEP-0085), possibly
//     with a <thread/> and hints: XEP-0160 §3 and XEP-0085 §5.x say such
//     messages SHOULD NOT be stored. It is dropped silently: a "composing"
//     that arrives hours later means nothing, and an error for every typing
//     notification would only be noise for the sender. A <store/> hint
//     makes the server keep it anyway.
//   - A full quota (Config.Quota messages): service-unavailable with the
//     text "offline storage is full" (XEP-0160 §2).
//   - An account deleted since the router checked it exists: the store's
//     foreign key refuses the row, and the sender gets the same
//     service-unavailable, without text, as for any unknown account.
//
// Delivery is at least once, never at most once: messages are read and
// locked in one transaction, handed to the session's queue, and deleted in
// the same transaction only when the session took every one of them. If
// the session refuses one, or the server dies before the commit, nothing
// is deleted and the messages come again at the next login — possibly a
// second time, but never lost. Locked rows are skipped by a concurrent
// delivery, so two resources coming online together do not both get a
// message. What a session's queue held when the session died is the
// business of stream management, which routes it back here.
package offline

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

// Namespaces and features used here.
const (
	// Feature is the service discovery feature of XEP-0160.
	Feature = "msgoffline"
	// NSDelay is the namespace of XEP-0203 delayed delivery.
	NSDelay = "urn:xmpp:delay"
	// NSHints is the namespace of XEP-0334 message processing hints.
	NSHints = "urn:xmpp:hints"
	// NSChatStates is the namespace of XEP-0085 chat state notifications.
	NSChatStates = "http://jabber.org/protocol/chatstates"
)

// DefaultQuota is the number of messages kept per account when
// Config.Quota is zero.
const DefaultQuota = 1000

// batchSize is how many messages one delivery transaction hands over: it
// bounds the memory a login takes and how much one refusal repeats.
const batchSize = 100

// storeTimeout bounds one database call, so that a slow database fails
// the one message instead of holding the session that sent it.
const storeTimeout = 10 * time.Second

// maxStoredDepth bounds the nesting accepted when reading a stored stanza
// back. It only has to exceed any stream depth limit: the data was written
// by this package from a stanza that passed the stream's limits.
const maxStoredDepth = 1024

// stampLayout is the XEP-0082 DateTime profile, in UTC with milliseconds.
const stampLayout = "2006-01-02T15:04:05.000Z"

// ErrFull is returned by Store.Add when the account already holds the
// maximum number of messages.
var ErrFull = errors.New("offline storage is full")

// ErrRefused is returned by Store.Take when deliver refused a message; no
// message of that batch was removed.
var ErrRefused = errors.New("the session refused an offline message")

// Message is one stored message.
type Message struct {
	// ID orders the messages of an account: lower ids were stored first.
	ID int64
	// Stanza is the serialised message, with its namespace declared.
	Stanza []byte
	// Stamp is when the message was stored.
	Stamp time.Time
}

// Store keeps the offline messages of accounts.
type Store interface {
	// Add appends stanza to the messages of username@domain and returns
	// once it is committed. It returns ErrFull when the account already
	// holds max messages, and an error wrapping storage.ErrNotFound when
	// the account does not exist. Concurrent Adds to one account may
	// overshoot max by their number: the quota guards storage, not a count.
	Add(ctx context.Context, domain, username string, stanza []byte, max int) error
	// Take passes up to limit of the oldest messages of username@domain to
	// deliver, in id order, and removes them when deliver accepted all of
	// them, in one transaction; messages another Take is delivering are
	// skipped. If deliver returns false, nothing is removed and Take returns
	// ErrRefused. It returns how many messages were delivered and removed.
	Take(ctx context.Context, domain, username string, limit int, deliver func(Message) bool) (int, error)
}

// Config is what the module needs.
type Config struct {
	// Store keeps the messages.
	Store Store
	// Quota is the most messages kept per account; 0 means DefaultQuota.
	Quota int
	// Logger receives storage failures; nil discards them.
	Logger *slog.Logger
}

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("offline: no store")
	}
	if c.Quota == 0 {
		c.Quota = DefaultQuota
	}
	if c.Quota < 0 {
		return fmt.Errorf("offline: quota %d must be positive", c.Quota)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Handler is the router's offline handler (router.OfflineHandler).
type Handler struct {
	cfg Config
	r   *router.Router
}

var _ router.OfflineHandler = (*Handler)(nil)

// Register validates cfg, installs the returned Handler as r's offline
// handler and announces the msgoffline feature.
func Register(r *router.Router, cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, r: r}
	r.SetOfflineHandler(h)
	r.AddFeature(Feature)
	return h, nil
}

// Store keeps st, a message of type normal or chat to the local account to
// that has no resource to take it; see the package comment for what is
// not kept.
func (h *Handler) Store(ctx context.Context, to jid.JID, st *xmlstream.Element) error {
	store := st.Child(NSHints, "store") != nil
	if st.Child(NSHints, "no-store") != nil {
		return &router.StanzaError{Condition: stanza.ServiceUnavailable, Text: "the recipient is offline and the message asks not to be stored"}
	}
	if !store && !worthStoring(st) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	err := h.cfg.Store.Add(ctx, to.Domainpart(), to.Localpart(), st.Append(nil, ""), h.cfg.Quota)
	switch {
	case errors.Is(err, ErrFull):
		return &router.StanzaError{Condition: stanza.ServiceUnavailable, Text: "offline storage is full"}
	case errors.Is(err, storage.ErrNotFound):
		return &router.StanzaError{Condition: stanza.ServiceUnavailable}
	case err != nil:
		return fmt.Errorf("storing an offline message for %s: %w", to.Bare(), err)
	}
	// A session may have come online, and flushed, while this message was
	// on its way into storage: it would wait there until the next login.
	for _, p := range h.r.Presences(to.Bare()) {
		if session, err := jid.Parse(p.Attr("from")); err == nil {
			h.Flush(ctx, session)
			break
		}
	}
	return nil
}

// worthStoring reports whether st carries more than a chat state: a
// standalone notification has only the state, a <thread/> (XEP-0085 §5.x)
// and perhaps hints. A message without any child has nothing to deliver.
func worthStoring(st *xmlstream.Element) bool {
	for _, c := range st.ChildElements() {
		switch {
		case c.Name.Space == NSChatStates, c.Name.Space == NSHints:
		case c.Name.Space == st.Name.Space && c.Name.Local == "thread":
		default:
			return true
		}
	}
	return false
}

// Flush delivers the stored messages of session's account to session,
// when its initial presence has a non-negative priority (XEP-0160 §2:
// negative priority resources never get messages sent to the bare JID).
func (h *Handler) Flush(ctx context.Context, session jid.JID) {
	if priority(h.r, session) < 0 {
		return
	}
	domain, user := session.Domainpart(), session.Localpart()
	for {
		tctx, cancel := context.WithTimeout(ctx, storeTimeout)
		n, err := h.cfg.Store.Take(tctx, domain, user, batchSize, func(m Message) bool {
			st, err := xmlstream.ParseElement(m.Stanza, xmlstream.Limits{MaxStanzaBytes: len(m.Stanza), MaxDepth: maxStoredDepth})
			if err != nil {
				// It can never be delivered; keeping it would block every
				// later message, so it is logged and dropped.
				h.cfg.Logger.Error("dropping an unreadable offline message", "jid", session.Bare().String(), "id", m.ID, "err", err)
				return true
			}
			return h.r.DeliverToSession(session, delayed(st, domain, m.Stamp))
		})
		cancel()
		switch {
		case errors.Is(err, ErrRefused):
			// The session is gone or overflowing; the batch stays stored.
			return
		case err != nil:
			h.cfg.Logger.Error("delivering offline messages", "jid", session.String(), "err", err)
			return
		case n < batchSize:
			return
		}
	}
}

// delayed adds a XEP-0203 <delay/> from domain stamped at when, unless st
// already has one from domain: a message that was delivered from here
// before and came back (e.g. unacknowledged under stream management)
// keeps its first stamp.
func delayed(st *xmlstream.Element, domain string, when time.Time) *xmlstream.Element {
	for _, c := range st.ChildElements() {
		if c.Name.Space == NSDelay && c.Name.Local == "delay" && c.Attr("from") == domain {
			return st
		}
	}
	return st.AddChild(xmlstream.NewElement(NSDelay, "delay", "from", domain, "stamp", when.UTC().Format(stampLayout)).AddText("Offline Storage"))
}

// priority returns the priority of session's current available presence,
// or 0 when it has none.
func priority(r *router.Router, session jid.JID) int {
	for _, p := range r.Presences(session.Bare()) {
		if p.Attr("from") != session.String() {
			continue
		}
		if c := p.Child(stanza.NSClient, "priority"); c != nil {
			n, _ := strconv.Atoi(c.Text())
			return n
		}
	}
	return 0
}
