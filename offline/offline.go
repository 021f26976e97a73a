// Package offline implements XEP-0160: Best Practices for Handling Offline
// Messages, with XEP-0203 delay stamps and the storage hints of XEP-0334.
//
// A message of type normal or chat to a local account that has no resource
// to take it (RFC 6121 §8.5.2.2.1) is committed to the Store before Store
// returns, so that a stanza the server acknowledges afterwards is durable
// (DESIGN.md §4). When the account next sends initial presence with a
// non-negative priority, the stored messages are handed to that session in
// the order they were stored, each with a <delay/> from the server. A
// client that binds with Bind 2 gets, instead, only those its archive
// does not hold: the others are removed at the bind (DropArchived).
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
// Delivery is at least once, never at most once. A login claims its
// account's messages in batches and hands them to the session's queue;
// each stays stored until it is safe: written, for a session without
// stream management; acknowledged by the client (XEP-0198), or routed
// again when its session ended first, for one with it. So a crash of the
// server (kill -9) between the hand-over and the acknowledgement loses
// nothing: the messages come again at the next login, possibly a second
// time. A claim names the server process that made it, so that a second
// resource coming online meanwhile does not get the messages too, while a
// claim left by a process that died holds no longer. (Clustering is not
// built yet: once several nodes share the database, a claim will have to
// be checked against the nodes that are alive.)
package offline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
	// NSSID is the namespace of XEP-0359 stanza ids.
	NSSID = "urn:xmpp:sid:0"
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

// stampLayout is the XEP-0082 DateTime profile, in UTC with milliseconds.
const stampLayout = "2006-01-02T15:04:05.000Z"

// ErrFull is returned by Store.Add when the account already holds the
// maximum number of messages.
var ErrFull = errors.New("offline storage is full")

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
	// Add appends stanza to the messages of username@domain, with the id
	// archiveID the account's archive gave it (0: none, see ArchiveID),
	// and returns once it is committed. It returns ErrFull when the
	// account already holds max messages that are not claimed, and an
	// error wrapping storage.ErrNotFound when the account does not exist.
	// Concurrent Adds to one account may overshoot max by their number:
	// the quota guards storage, not a count.
	Add(ctx context.Context, domain, username string, stanza []byte, archiveID int64, max int) error
	// Claim marks up to limit of the oldest messages of username@domain
	// that claimer does not hold already as held by claimer, and returns
	// them in id order. Messages another Claim is taking are skipped.
	Claim(ctx context.Context, domain, username, claimer string, limit int) ([]Message, error)
	// Unclaim gives up the claim on the messages ids of username@domain.
	Unclaim(ctx context.Context, domain, username string, ids []int64) error
	// Delete removes the messages ids of username@domain.
	Delete(ctx context.Context, domain, username string, ids []int64) error
	// DeleteArchived removes the messages of username@domain whose
	// archive id is, when it runs, in the account's archive (committed),
	// other than those claimer holds, and returns how many it removed.
	DeleteArchived(ctx context.Context, domain, username, claimer string) (int64, error)
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
	cfg     Config
	r       *router.Router
	claimer string // this process's claims on stored messages: a random UUID

	// flushing holds, by bare JID, the accounts whose messages a Flush is
	// handing to a session; true when another Flush of the account came
	// meanwhile and had it look again (Flush).
	mu       sync.Mutex
	flushing map[string]bool
}

var _ router.OfflineHandler = (*Handler)(nil)

// Register validates cfg, installs the returned Handler as r's offline
// handler and announces the msgoffline feature.
func Register(r *router.Router, cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, r: r, claimer: newClaimer(), flushing: map[string]bool{}}
	r.SetOfflineHandler(h)
	r.AddFeature(Feature)
	return h, nil
}

// Store keeps st, a message of type normal or chat to the local account to
// that has no resource to take it; see the package comment for what is
// not kept. A <delay/> from to's domain is kept only on a message given
// back (router.Rerouted), which got it from here (Delayed); on any other
// it is forged, and dropped.
func (h *Handler) Store(ctx context.Context, to jid.JID, st *xmlstream.Element) error {
	store := st.Child(NSHints, "store") != nil
	if !store && !WorthStoring(st) {
		return nil // a chat state, say: not worth an error either
	}
	if st.Child(NSHints, "no-store") != nil {
		return &router.StanzaError{Condition: stanza.ServiceUnavailable, Text: "the recipient is offline and the message asks not to be stored"}
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	stored := st
	if !router.Rerouted(ctx) {
		stored = withoutDelaysFrom(st, to.Domainpart())
	}
	var archiveID int64
	if h.r.Archives() {
		archiveID = ArchiveID(stored, to)
	}
	err := h.cfg.Store.Add(ctx, to.Domainpart(), to.Localpart(), stored.Append(nil, ""), archiveID, h.cfg.Quota)
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
	if session, ok := h.taker(to.Bare()); ok {
		h.Flush(ctx, session)
	}
	return nil
}

// ArchiveID returns the id that the archive of the account to gave st,
// from the <stanza-id/> by to's bare JID (XEP-0359), or 0. The router's
// archiver put it there, after the commit, having removed any such
// element the sender put (XEP-0359 §5): only then is it to be trusted,
// so Store keeps it only when the router archives (router.Archives).
func ArchiveID(st *xmlstream.Element, to jid.JID) int64 {
	by := to.Bare().String()
	for _, c := range st.ChildElements() {
		if c.Name.Space == NSSID && c.Name.Local == "stanza-id" && c.Attr("by") == by {
			id, err := strconv.ParseInt(c.Attr("id"), 10, 64)
			if err != nil || id <= 0 {
				return 0
			}
			return id
		}
	}
	return 0
}

// DropArchived removes, without delivering them, the stored messages of
// account that its archive holds: a client binding with Bind 2 gets them
// with MAM (XEP-0386 §2.2, "clear the offline messages for this user
// ... without sending them"). Only a message whose archive entry is
// committed and still there goes; one the archive never kept (its
// preferences, a type it does not store) or has lost since (retention)
// stays, and comes at initial presence as to any client. So do those
// on their way to another of the account's sessions. It is one
// statement, whatever the number of messages, and is meant for the
// moment of binding, before the archive's metadata is read for
// <bound/>: the messages it removes are then within what that metadata
// says the archive holds.
func (h *Handler) DropArchived(ctx context.Context, account jid.JID) error {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	n, err := h.cfg.Store.DeleteArchived(ctx, account.Domainpart(), account.Localpart(), h.claimer)
	if err != nil {
		return fmt.Errorf("clearing the archived offline messages of %s: %w", account.Bare(), err)
	}
	if n > 0 {
		h.cfg.Logger.Debug("offline messages left to MAM at a Bind 2 bind", "jid", account.Bare().String(), "count", n)
	}
	return nil
}

// withoutDelaysFrom returns st without the XEP-0203 <delay/> elements
// that claim to be from domain, as a copy if it has any. Only offline
// storage here writes those, and Delayed would take one that another
// server or a component forged for its own stamp.
func withoutDelaysFrom(st *xmlstream.Element, domain string) *xmlstream.Element {
	forged := func(n xmlstream.Node) bool {
		d, ok := n.(*xmlstream.Element)
		return ok && d.Name.Space == NSDelay && d.Name.Local == "delay" && d.Attr("from") == domain
	}
	if !slices.ContainsFunc(st.Children, forged) {
		return st
	}
	c := st.Copy()
	c.Children = slices.DeleteFunc(c.Children, forged)
	return c
}

// taker returns the session of account that takes its stored messages
// now, if any: the first with a non-negative priority (Flush). One at a
// negative priority listed first must not stop the search.
func (h *Handler) taker(account jid.JID) (jid.JID, bool) {
	for _, session := range h.r.AvailableResources(account) {
		if p, ok := h.r.Priority(session); ok && p >= 0 {
			return session, true
		}
	}
	return jid.JID{}, false
}

// WorthStoring reports whether st carries more than a chat state: a
// standalone notification has only the state, a <thread/> (XEP-0085 §5.x)
// and perhaps hints. A message without any child has nothing to deliver.
func WorthStoring(st *xmlstream.Element) bool {
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
//
// The first such resource gets all of them, however many batches they
// take: a Flush of the account that comes while one runs (another
// resource's initial presence, a message stored meanwhile) only has the
// running one claim again when it is done, for what was stored since,
// for the same session; or, when that one took not all of it (it ended,
// or its queue is full), for the resource that takes them now.
// Otherwise two resources coming online together would each claim every
// other batch, and neither would have the conversation whole.
func (h *Handler) Flush(ctx context.Context, session jid.JID) {
	if p, _ := h.r.Priority(session); p < 0 {
		return
	}
	key := session.Bare().String()
	h.mu.Lock()
	if _, running := h.flushing[key]; running {
		h.flushing[key] = true
		h.mu.Unlock()
		return
	}
	h.flushing[key] = false
	h.mu.Unlock()
	for {
		took := h.flush(ctx, session)
		h.mu.Lock()
		again := h.flushing[key]
		h.flushing[key] = false
		if !again {
			delete(h.flushing, key)
		}
		h.mu.Unlock()
		if !again {
			return
		}
		if !took {
			// With nobody to take them, the pass for the same session
			// unclaims them again, for the next Flush.
			if next, ok := h.taker(session.Bare()); ok {
				session = next
			}
		}
	}
}

// flush hands the account's stored messages to session, claiming them
// in batches, and reports whether session took all of them.
func (h *Handler) flush(ctx context.Context, session jid.JID) bool {
	domain, user := session.Domainpart(), session.Localpart()
	for {
		tctx, cancel := context.WithTimeout(ctx, storeTimeout)
		msgs, err := h.cfg.Store.Claim(tctx, domain, user, h.claimer, batchSize)
		cancel()
		if err != nil {
			h.cfg.Logger.Error("delivering offline messages", "jid", session.String(), "err", err)
			return false
		}
		if !h.deliver(ctx, session, msgs) {
			return false
		}
		if len(msgs) < batchSize {
			return true
		}
	}
}

// deliver hands the claimed msgs to session in order and reports whether
// it took all of them. Each is deleted once it is safe; those the session
// refused are unclaimed, for the next login. One the router's filters
// refuse now, from a sender the user blocked since it was stored
// (XEP-0191 §3.3), is deleted undelivered.
func (h *Handler) deliver(ctx context.Context, session jid.JID, msgs []Message) bool {
	b := &batch{h: h, domain: session.Domainpart(), user: session.Localpart()}
	b.pending.Store(int32(len(msgs)) + 1) // one hold each, and one for this loop
	defer b.release()
	for i, m := range msgs {
		st, err := xmlstream.ParseStored(m.Stanza)
		if err != nil {
			// It can never be delivered; keeping it would block every
			// later message, so it is logged and dropped.
			h.cfg.Logger.Error("dropping an unreadable offline message", "jid", session.Bare().String(), "id", m.ID, "err", err)
			b.safe(m.ID)
			continue
		}
		if from, err := jid.Parse(st.Attr("from")); err == nil && !h.r.Admits(ctx, from, session, st) {
			b.safe(m.ID)
			continue
		}
		if !h.r.DeliverToSessionSafe(session, Delayed(st, b.domain, m.Stamp), func() { b.safe(m.ID) }) {
			// The session is gone or overflowing: the rest stays stored.
			rest := msgs[i:]
			b.pending.Add(-int32(len(rest)))
			ids := make([]int64, len(rest))
			for k, m := range rest {
				ids[k] = m.ID
			}
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			defer cancel()
			if err := h.cfg.Store.Unclaim(ctx, b.domain, b.user, ids); err != nil {
				h.cfg.Logger.Error("keeping offline messages for the next login", "jid", session.Bare().String(), "err", err)
			}
			return false
		}
	}
	return true
}

// batch follows the messages of one claim until each is safe, and then
// deletes them together: one statement per batch, whether the session
// without stream management took them at once or the client acknowledged
// them later.
type batch struct {
	h            *Handler
	domain, user string
	pending      atomic.Int32 // holds not yet released
	mu           sync.Mutex
	done         []int64 // ids of the messages that are safe
}

// safe records that the message id is safe and releases its hold.
func (b *batch) safe(id int64) {
	b.mu.Lock()
	b.done = append(b.done, id)
	b.mu.Unlock()
	b.release()
}

// release drops one hold; the last deletes the safe messages. It runs on
// whichever goroutine made the last message safe, e.g. the one reading
// the client's acknowledgement, long after Flush returned.
func (b *batch) release() {
	if b.pending.Add(-1) != 0 || len(b.done) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := b.h.cfg.Store.Delete(ctx, b.domain, b.user, b.done); err != nil {
		// They were delivered; the claim keeps them from this process's
		// logins, and a restart delivers them a second time.
		b.h.cfg.Logger.Error("deleting delivered offline messages", "jid", b.user+"@"+b.domain, "err", err)
	}
}

// newClaimer returns a random UUID (RFC 9562 version 4) naming this
// process's claims.
func newClaimer() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// Delayed is st as it is delivered from offline storage: with a
// XEP-0203 <delay/> from domain stamped at when, the time it was stored,
// unless st already has one from domain. A message that was delivered
// from here before and came back (e.g. unacknowledged under stream
// management) keeps its first stamp, and so does one exported (package
// pie) and imported.
func Delayed(st *xmlstream.Element, domain string, when time.Time) *xmlstream.Element {
	for _, c := range st.ChildElements() {
		if c.Name.Space == NSDelay && c.Name.Local == "delay" && c.Attr("from") == domain {
			return st
		}
	}
	return st.AddChild(xmlstream.NewElement(NSDelay, "delay", "from", domain, "stamp", when.UTC().Format(stampLayout)).AddText("Offline Storage"))
}
