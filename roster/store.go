package roster

import (
	"context"
	"errors"
	"time"

	"mellium.im/xmpp/jid"
)

// Subscription is the 'subscription' of a roster item (RFC 6121 §2.1.2.5).
type Subscription string

// The subscription states of a roster item.
const (
	None Subscription = "none"
	To   Subscription = "to"   // the owner receives the contact's presence
	From Subscription = "from" // the contact receives the owner's presence
	Both Subscription = "both"
)

// hasTo reports whether the owner is subscribed to the contact's presence.
func (s Subscription) hasTo() bool { return s == To || s == Both }

// hasFrom reports whether the contact is subscribed to the owner's presence.
func (s Subscription) hasFrom() bool { return s == From || s == Both }

// with returns s with the to and from halves set as given.
func with(to, from bool) Subscription {
	switch {
	case to && from:
		return Both
	case to:
		return To
	case from:
		return From
	}
	return None
}

// Item is one contact of a roster.
type Item struct {
	// Contact is the contact's bare JID.
	Contact      jid.JID
	Name         string
	Subscription Subscription
	// Ask is true while the owner's subscription request is pending out.
	Ask bool
	// Approved is true when the owner pre-approved the contact's
	// subscription request (RFC 6121 §3.4).
	Approved bool
	// Groups are the item's groups, without duplicates.
	Groups []string
}

// Roster is an account's contact list and its version (XEP-0237).
type Roster struct {
	Version int64
	Items   []Item
}

// State is everything the owner's server knows about one contact: the
// roster item if there is one, and the contact's pending subscription
// request to the owner.
type State struct {
	// InRoster says whether Item exists.
	InRoster bool
	Item     Item
	// PendingIn holds the contact's unanswered subscription request, as
	// received (serialised XML); empty when there is none.
	PendingIn string
}

// Change is what Update did.
type Change struct {
	// ItemChanged is true when the roster item was created, changed or
	// removed; Version is then the roster's new version.
	ItemChanged bool
	Version     int64
}

// Pending is a subscription request waiting for the owner's answer.
type Pending struct {
	Contact jid.JID
	Stanza  string
}

// Grant is a local account whose roster gives a user a subscription from
// (the user may see its presence), with that account's last unavailable
// presence if it has one.
type Grant struct {
	Account jid.JID
	// LastStanza is the account's last unavailable presence (serialised
	// XML), empty if it never logged out.
	LastStanza string
}

// Last is an account's last unavailable presence (XEP-0012).
type Last struct {
	Status string
	Stanza string
	At     time.Time
}

// ErrTooManyItems is returned, wrapped, by Update when adding an item
// would make the roster longer than allowed.
var ErrTooManyItems = errors.New("too many roster items")

// ErrTooLong is returned, wrapped, by Update when the owner's and the
// contact's JIDs are together too long for the store to keep an item or
// a request of contact in owner's roster (RFC 6121 §2.3.3 lets the
// server limit what an item holds).
var ErrTooLong = errors.New("the owner's and the contact's JIDs are too long to keep together")

// ErrTooManyRequests is returned, wrapped, by Update when storing a
// subscription request would leave more requests waiting for the
// owner's answer than allowed.
var ErrTooManyRequests = errors.New("too many pending subscription requests")

// Store persists rosters, pending subscription requests and last presence.
// Owners and contacts are bare JIDs. Methods return an error wrapping
// storage.ErrNotFound for an owner that has no account.
type Store interface {
	// Roster loads the whole roster of owner, in one query.
	Roster(ctx context.Context, owner jid.JID) (Roster, error)
	// State returns owner's state for contact.
	State(ctx context.Context, owner, contact jid.JID) (State, error)
	// Update changes owner's state for contact atomically: f gets the
	// current state and returns the next one. f is called once, while
	// other changes to owner's roster wait, so the order of the calls of
	// f is the order of the changes and of the versions. When the item is added, the
	// roster may hold at most maxItems items; when a subscription request
	// is stored, at most maxItems requests may wait for owner's answer.
	// Owner and contact too long to keep together give ErrTooLong.
	Update(ctx context.Context, owner, contact jid.JID, maxItems int, f func(State) (State, error)) (Change, error)
	// PendingIn returns owner's unanswered subscription requests.
	PendingIn(ctx context.Context, owner jid.JID) ([]Pending, error)
	// RosterAndPending is Roster and PendingIn in one round trip, for a
	// session's initial presence.
	RosterAndPending(ctx context.Context, owner jid.JID) (Roster, []Pending, error)
	// Grants returns the local accounts whose roster gives user a
	// subscription from, with their last unavailable presence, in one query.
	Grants(ctx context.Context, user jid.JID) ([]Grant, error)
	// SetLast records owner's last unavailable presence.
	SetLast(ctx context.Context, owner jid.JID, l Last) error
	// Last returns owner's last unavailable presence, or an error wrapping
	// storage.ErrNotFound.
	Last(ctx context.Context, owner jid.JID) (Last, error)
	// DeleteAll removes owner's roster, requests and last presence.
	DeleteAll(ctx context.Context, owner jid.JID) error
}
