package mam

import (
	"context"
	"time"
)

// Entry is one message on its way into one account's archive.
type Entry struct {
	// Domain and Username name the archive's owner.
	Domain, Username string
	// With is the bare JID of the other party; WithResource its resource.
	With, WithResource string
	// Outgoing is true when the owner sent the message.
	Outgoing bool
	// OriginID is the sender's XEP-0359 origin-id, else the message's id.
	OriginID string
	// Replaces is the id a XEP-0308 correction names; "" for none.
	Replaces string
	// Body is the text searched by full-text queries.
	Body string
	// Stanza is the serialised message, with its namespace declared.
	Stanza []byte
}

// Message is one archived message as a query returns it.
type Message struct {
	ID     int64
	Stamp  time.Time
	Stanza []byte
}

// Query selects messages of one archive. Bounds are exclusive ids; zero
// values mean no restriction.
type Query struct {
	With, WithResource string // WithResource only with With
	Start, End         time.Time
	AfterID, BeforeID  int64
	IDs                []int64
	Text               string // XEP-0431 full-text search
	// Max is the page size; the store returns at most Max messages.
	Max int
	// Last asks for the last Max matching messages instead of the first.
	Last bool
}

// Page is the answer to a Query, oldest first.
type Page struct {
	Messages []Message
	// Complete is true when no further message matches in the query's
	// direction (after the page going forwards, before it when Last).
	Complete bool
}

// Prefs are an account's archiving preferences (XEP-0313 §6 / XEP-0441).
type Prefs struct {
	Default       string   // "always", "never" or "roster"
	Always, Never []string // JIDs: a bare one matches its every resource
}

// Tx is a transaction of Store.Insert: Commit makes its rows durable,
// Rollback discards them. Exactly one of them must be called.
type Tx interface {
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Store keeps the message archives of accounts. storage/postgres
// implements it.
type Store interface {
	// NextIDs reserves n archive ids, in increasing order, each greater
	// than every id reserved before.
	NextIDs(ctx context.Context, n int) ([]int64, error)
	// Insert writes entries, stamped stamp, with the ids given (reserved
	// by NextIDs, increasing), in a new transaction, and returns it
	// uncommitted. stored[i] is ids[i], or 0 when entries[i] is left out:
	// its owner does not exist, or the owner's preferences exclude the
	// other party.
	//
	// With ids nil, Insert reserves them itself, once every other
	// transaction that did so has ended, and holds them until the
	// returned one ends: ids then become visible in increasing order even
	// when several processes (a cluster's nodes) write, so that a client
	// paging forward from the last id it saw never passes over a message.
	// One process's writer orders its own batches and need not wait so.
	Insert(ctx context.Context, entries []Entry, ids []int64, stamp time.Time) (stored []int64, tx Tx, err error)
	// Query returns one page of the archive of username@domain. Ids named
	// in q.AfterID, q.BeforeID or q.IDs that are not in that archive make
	// it fail with an error wrapping storage.ErrNotFound.
	Query(ctx context.Context, domain, username string, q Query) (Page, error)
	// Retract replaces, in the archives of sender and recipient (bare
	// JIDs), the messages sender sent to recipient with originID, and
	// their XEP-0308 corrections (which hold the text as corrected), by
	// tombstone(stanza), and returns how many it replaced. A sender that
	// is a room occupant is given as its full (occupant) JID: only its own
	// private messages in the recipient's archive are replaced.
	Retract(ctx context.Context, sender, recipient, originID string, tombstone func(stanza []byte) []byte) (int, error)
	// Withdraw replaces the message id of the archive of username@domain,
	// if it is there, by placeholder, a message without content, and
	// forgets its words and ids: its UID, stamp and other party stay, so
	// that queries naming it stay consistent (XEP-0313 §3.2).
	Withdraw(ctx context.Context, domain, username string, id int64, placeholder []byte) error
	// Prefs returns the preferences of username@domain; an account
	// without stored preferences gets Prefs{Default: "always"}.
	Prefs(ctx context.Context, domain, username string) (Prefs, error)
	// SetPrefs stores the preferences of username@domain.
	SetPrefs(ctx context.Context, domain, username string, p Prefs) error
	// Expire deletes up to limit of the messages stored before before,
	// oldest first, and returns how many it deleted.
	Expire(ctx context.Context, before time.Time, limit int) (int, error)
}
