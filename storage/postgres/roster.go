package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/roster"
	"xmppd/storage"
)

// Roster stores rosters (tables roster_versions and roster_items),
// pending subscription requests (roster_pending_in) and last presence
// (last_presence). Every change to an owner's roster runs in a transaction
// that first locks the owner's roster_versions row, so changes to one
// roster are serialised and the item limit holds.
type Roster struct {
	pool *pgxpool.Pool
}

// NewRoster returns the roster store using pool.
func NewRoster(pool *pgxpool.Pool) *Roster { return &Roster{pool: pool} }

// Roster is the store of package roster.
var _ roster.Store = (*Roster)(nil)

// noAccount maps a foreign key violation (the owner has no account) to
// storage.ErrNotFound.
func noAccount(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return fmt.Errorf("no such account: %w", storage.ErrNotFound)
	}
	return err
}

// rosterSQL selects an account's roster version and items; an account
// without items gives one row with NULL items.
const rosterSQL = `SELECT coalesce(v.version, 0), i.contact, i.name, i.subscription, i.ask, i.approved, i.groups
	FROM (SELECT $1::text AS domain, $2::text AS username) o
	LEFT JOIN roster_versions v USING (domain, username)
	LEFT JOIN roster_items i USING (domain, username)
	ORDER BY i.contact`

// pendingSQL selects an account's unanswered subscription requests.
const pendingSQL = `SELECT contact, stanza FROM roster_pending_in
	WHERE domain = $1 AND username = $2 ORDER BY received_at, contact`

// Roster loads owner's roster and version in one query.
func (r *Roster) Roster(ctx context.Context, owner jid.JID) (roster.Roster, error) {
	ros, err := scanRoster(r.pool.Query(ctx, rosterSQL, owner.Domainpart(), owner.Localpart()))
	if err != nil {
		return roster.Roster{}, fmt.Errorf("loading roster of %s: %w", owner, err)
	}
	return ros, nil
}

// RosterAndPending loads owner's roster and its unanswered subscription
// requests in one round trip.
func (r *Roster) RosterAndPending(ctx context.Context, owner jid.JID) (roster.Roster, []roster.Pending, error) {
	b := &pgx.Batch{}
	b.Queue(rosterSQL, owner.Domainpart(), owner.Localpart())
	b.Queue(pendingSQL, owner.Domainpart(), owner.Localpart())
	br := r.pool.SendBatch(ctx, b)
	defer br.Close()
	ros, err := scanRoster(br.Query())
	if err != nil {
		return roster.Roster{}, nil, fmt.Errorf("loading roster of %s: %w", owner, err)
	}
	pending, err := scanPending(br.Query())
	if err != nil {
		return roster.Roster{}, nil, fmt.Errorf("loading subscription requests to %s: %w", owner, err)
	}
	return ros, pending, nil
}

// scanRoster reads the rows of rosterSQL.
func scanRoster(rows pgx.Rows, err error) (roster.Roster, error) {
	if err != nil {
		return roster.Roster{}, err
	}
	defer rows.Close()
	var ros roster.Roster
	for rows.Next() {
		var contact, name, sub *string
		var ask, approved *bool
		var groups []string
		if err := rows.Scan(&ros.Version, &contact, &name, &sub, &ask, &approved, &groups); err != nil {
			return roster.Roster{}, err
		}
		if contact == nil {
			continue
		}
		it, err := item(*contact, *name, *sub, *ask, *approved, groups)
		if err != nil {
			return roster.Roster{}, err
		}
		ros.Items = append(ros.Items, it)
	}
	if err := rows.Err(); err != nil {
		return roster.Roster{}, err
	}
	return ros, nil
}

func item(contact, name, sub string, ask, approved bool, groups []string) (roster.Item, error) {
	j, err := jid.Parse(contact)
	if err != nil {
		return roster.Item{}, fmt.Errorf("stored contact %q: %w", contact, err)
	}
	if groups == nil {
		groups = []string{}
	}
	return roster.Item{Contact: j, Name: name, Subscription: roster.Subscription(sub), Ask: ask, Approved: approved, Groups: groups}, nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func state(ctx context.Context, q querier, owner, contact jid.JID) (roster.State, error) {
	var st roster.State
	var name, sub, pending *string
	var ask, approved *bool
	var groups []string
	err := q.QueryRow(ctx, `SELECT i.name, i.subscription, i.ask, i.approved, i.groups, p.stanza
		FROM (SELECT $1::text AS domain, $2::text AS username, $3::text AS contact) o
		LEFT JOIN roster_items i USING (domain, username, contact)
		LEFT JOIN roster_pending_in p USING (domain, username, contact)`,
		owner.Domainpart(), owner.Localpart(), contact.String()).Scan(&name, &sub, &ask, &approved, &groups, &pending)
	if err != nil {
		return st, err
	}
	if name != nil {
		st.InRoster = true
		if st.Item, err = item(contact.String(), *name, *sub, *ask, *approved, groups); err != nil {
			return st, err
		}
	}
	if pending != nil {
		st.PendingIn = *pending
	}
	return st, nil
}

// State returns owner's roster item and pending request for contact.
func (r *Roster) State(ctx context.Context, owner, contact jid.JID) (roster.State, error) {
	st, err := state(ctx, r.pool, owner, contact)
	if err != nil {
		return st, fmt.Errorf("loading %s in the roster of %s: %w", contact, owner, err)
	}
	return st, nil
}

func itemEqual(a, b roster.Item) bool {
	return a.Name == b.Name && a.Subscription == b.Subscription && a.Ask == b.Ask &&
		a.Approved == b.Approved && slices.Equal(a.Groups, b.Groups)
}

// maxRosterKeyBytes bounds the owner's domain and username and the
// contact's JID together: roster_items and roster_pending_in index the
// three in one btree entry, which PostgreSQL limits to 2704 bytes
// (less its headers) when the text does not compress.
const maxRosterKeyBytes = 2600

// Update changes owner's state for contact in one transaction.
func (r *Roster) Update(ctx context.Context, owner, contact jid.JID, maxItems int, f func(roster.State) (roster.State, error)) (roster.Change, error) {
	var ch roster.Change
	if n := len(owner.Domainpart()) + len(owner.Localpart()) + len(contact.String()); n > maxRosterKeyBytes {
		return ch, fmt.Errorf("updating %s in the roster of %s: %d bytes: %w", contact, owner, n, roster.ErrTooLong)
	}
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		d, u, c := owner.Domainpart(), owner.Localpart(), contact.String()
		// Creates the version row if needed and locks it until commit.
		if _, err := tx.Exec(ctx, `INSERT INTO roster_versions (domain, username, version) VALUES ($1, $2, 0)
			ON CONFLICT (domain, username) DO UPDATE SET version = roster_versions.version`, d, u); err != nil {
			return noAccount(err)
		}
		cur, err := state(ctx, tx, owner, contact)
		if err != nil {
			return err
		}
		next, err := f(cur)
		if err != nil {
			return err
		}
		next.Item.Contact = contact
		if next.Item.Subscription == "" {
			next.Item.Subscription = roster.None
		}
		switch {
		case cur.InRoster && !next.InRoster:
			if _, err := tx.Exec(ctx, `DELETE FROM roster_items WHERE domain = $1 AND username = $2 AND contact = $3`, d, u, c); err != nil {
				return err
			}
			ch.ItemChanged = true
		case next.InRoster && (!cur.InRoster || !itemEqual(cur.Item, next.Item)):
			if !cur.InRoster {
				var n int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM roster_items WHERE domain = $1 AND username = $2`, d, u).Scan(&n); err != nil {
					return err
				}
				if n >= maxItems {
					return fmt.Errorf("the roster holds %d items: %w", n, roster.ErrTooManyItems)
				}
			}
			groups := next.Item.Groups
			if groups == nil {
				groups = []string{}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO roster_items (domain, username, contact, name, subscription, ask, approved, groups)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (domain, username, contact) DO UPDATE SET name = $4, subscription = $5, ask = $6, approved = $7, groups = $8`,
				d, u, c, next.Item.Name, string(next.Item.Subscription), next.Item.Ask, next.Item.Approved, groups); err != nil {
				return err
			}
			ch.ItemChanged = true
		}
		if ch.ItemChanged {
			if err := tx.QueryRow(ctx, `UPDATE roster_versions SET version = nextval('roster_version_seq')
				WHERE domain = $1 AND username = $2 RETURNING version`, d, u).Scan(&ch.Version); err != nil {
				return err
			}
		}
		if next.PendingIn != cur.PendingIn {
			if next.PendingIn == "" {
				_, err = tx.Exec(ctx, `DELETE FROM roster_pending_in WHERE domain = $1 AND username = $2 AND contact = $3`, d, u, c)
			} else {
				if cur.PendingIn == "" {
					var n int
					if err := tx.QueryRow(ctx, `SELECT count(*) FROM roster_pending_in WHERE domain = $1 AND username = $2`, d, u).Scan(&n); err != nil {
						return err
					}
					if n >= maxItems {
						return fmt.Errorf("%d subscription requests wait: %w", n, roster.ErrTooManyRequests)
					}
				}
				_, err = tx.Exec(ctx, `INSERT INTO roster_pending_in (domain, username, contact, stanza) VALUES ($1, $2, $3, $4)
					ON CONFLICT (domain, username, contact) DO UPDATE SET stanza = $4, received_at = now()`, d, u, c, next.PendingIn)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return roster.Change{}, fmt.Errorf("updating %s in the roster of %s: %w", contact, owner, err)
	}
	return ch, nil
}

// PendingIn returns owner's unanswered subscription requests, oldest first.
func (r *Roster) PendingIn(ctx context.Context, owner jid.JID) ([]roster.Pending, error) {
	out, err := scanPending(r.pool.Query(ctx, pendingSQL, owner.Domainpart(), owner.Localpart()))
	if err != nil {
		return nil, fmt.Errorf("loading subscription requests to %s: %w", owner, err)
	}
	return out, nil
}

// scanPending reads the rows of pendingSQL.
func scanPending(rows pgx.Rows, err error) ([]roster.Pending, error) {
	if err != nil {
		return nil, err
	}
	var out []roster.Pending
	var contact, stanza string
	_, err = pgx.ForEachRow(rows, []any{&contact, &stanza}, func() error {
		j, err := jid.Parse(contact)
		if err != nil {
			return fmt.Errorf("stored contact %q: %w", contact, err)
		}
		out = append(out, roster.Pending{Contact: j, Stanza: stanza})
		return nil
	})
	return out, err
}

// Grants returns the accounts whose roster gives user a subscription from.
func (r *Roster) Grants(ctx context.Context, user jid.JID) ([]roster.Grant, error) {
	rows, err := r.pool.Query(ctx, `SELECT i.domain, i.username, coalesce(l.stanza, '')
		FROM roster_items i LEFT JOIN last_presence l USING (domain, username)
		WHERE i.contact = $1 AND i.subscription IN ('from', 'both')`, user.Bare().String())
	if err != nil {
		return nil, fmt.Errorf("loading who grants %s presence: %w", user, err)
	}
	var out []roster.Grant
	var domain, username, stanza string
	_, err = pgx.ForEachRow(rows, []any{&domain, &username, &stanza}, func() error {
		j, err := jid.New(username, domain, "")
		if err != nil {
			return fmt.Errorf("stored account %s@%s: %w", username, domain, err)
		}
		out = append(out, roster.Grant{Account: j, LastStanza: stanza})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading who grants %s presence: %w", user, err)
	}
	return out, nil
}

// SetLast records owner's last unavailable presence.
func (r *Roster) SetLast(ctx context.Context, owner jid.JID, l roster.Last) error {
	_, err := r.pool.Exec(ctx, `INSERT INTO last_presence (domain, username, status, stanza, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (domain, username) DO UPDATE SET status = $3, stanza = $4, at = $5`,
		owner.Domainpart(), owner.Localpart(), l.Status, l.Stanza, l.At)
	if err != nil {
		return fmt.Errorf("recording the last presence of %s: %w", owner, noAccount(err))
	}
	return nil
}

// Last returns owner's last unavailable presence.
func (r *Roster) Last(ctx context.Context, owner jid.JID) (roster.Last, error) {
	var l roster.Last
	err := r.pool.QueryRow(ctx, `SELECT status, stanza, at FROM last_presence WHERE domain = $1 AND username = $2`,
		owner.Domainpart(), owner.Localpart()).Scan(&l.Status, &l.Stanza, &l.At)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return l, fmt.Errorf("loading the last presence of %s: %w", owner, err)
	}
	return l, nil
}

// DeleteAll removes everything stored for owner's roster.
func (r *Roster) DeleteAll(ctx context.Context, owner jid.JID) error {
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		for _, table := range []string{"roster_items", "roster_pending_in", "roster_versions", "last_presence"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE domain = $1 AND username = $2`, owner.Domainpart(), owner.Localpart()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting the roster of %s: %w", owner, err)
	}
	return nil
}
