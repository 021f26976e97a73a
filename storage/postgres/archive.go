package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/mam"
	"xmppd/storage"
)

// Archive stores message archives (tables archive_messages and
// archive_prefs).
type Archive struct {
	pool     *pgxpool.Pool
	walkFrom float64        // see queryPage
	merger   *pendingMerger // nil unless MergeTextAside
}

// NewArchive returns the message archive store using pool.
func NewArchive(pool *pgxpool.Pool) *Archive {
	return &Archive{pool: pool, walkFrom: frequentMatches}
}

// MergeTextAside has the archive merge its text index's pending list on
// a connection of its own, every mergeEvery rows, instead of leaving it
// to an INSERT that all later messages wait for (archive_pending.go).
// log gets the merges that fail.
func (a *Archive) MergeTextAside(log *slog.Logger) {
	a.merger = newPendingMerger(a.pool, "archive_messages_text", mergeEvery, log)
}

// Archive is the store of package mam.
var _ mam.Store = (*Archive)(nil)

// insertSQL inserts a batch with the ids the writer reserved (NextIDs)
// in one statement. Rows whose owner does not exist, or whose owner's
// preferences exclude the other party, are left out (a list of the
// preferences names the other party by its bare JID or its full JID,
// XEP-0441 §2.3); RETURNING tells which were stored. A correction is
// linked to the latest message of the same conversation with that origin
// id sent in the same direction: only its sender may correct a message
// (XEP-0308), and both parties may use the same ids.
const insertSQL = `INSERT INTO archive_messages (id, domain, username, with_jid, with_resource, outgoing, stamp, origin_id, replaces_id, terms, stanza)
SELECT u.id, u.domain, u.username, u.with_jid, u.with_resource, u.outgoing, $11, u.origin_id,
	CASE WHEN u.replaces <> '' THEN (SELECT m.id FROM archive_messages m
		WHERE m.domain = u.domain AND m.username = u.username AND m.origin_id = u.replaces AND m.origin_id <> ''
		AND m.with_jid = u.with_jid AND m.outgoing = u.outgoing
		ORDER BY m.id DESC LIMIT 1) END,
	u.terms, u.stanza
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::bytea[], $10::tsvector[])
	AS u(id, domain, username, with_jid, with_resource, outgoing, origin_id, replaces, stanza, terms)
WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.domain = u.domain AND a.username = u.username)
AND NOT EXISTS (SELECT 1 FROM archive_prefs p WHERE p.domain = u.domain AND p.username = u.username
	AND (ARRAY[u.with_jid, u.with_jid || '/' || u.with_resource] && p.never
		OR (NOT ARRAY[u.with_jid, u.with_jid || '/' || u.with_resource] && p.always AND (p.default_mode = 'never'
		OR (p.default_mode = 'roster' AND NOT EXISTS (SELECT 1 FROM roster_items r
			WHERE r.domain = u.domain AND r.username = u.username AND r.contact = u.with_jid))))))
RETURNING id`

// NextIDs reserves n archive ids, in increasing order; see mam.Store.
func (a *Archive) NextIDs(ctx context.Context, n int) ([]int64, error) {
	ids, err := nextIDs(ctx, a.pool, "archive_messages", n)
	if err != nil {
		return nil, fmt.Errorf("reserve %d archive ids: %w", n, err)
	}
	return ids, nil
}

// Insert writes entries with one statement in a new transaction; see
// mam.Store.
func (a *Archive) Insert(ctx context.Context, entries []mam.Entry, ids []int64, stamp time.Time) ([]int64, mam.Tx, error) {
	n := len(entries)
	if ids != nil && len(ids) != n {
		return nil, nil, fmt.Errorf("archive %d messages with %d ids", n, len(ids))
	}
	c := columnsOf(entries)
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("archive %d messages: %w", n, err)
	}
	if ids == nil {
		ids, stamp, err = reserveInOrder(ctx, tx, n, stamp)
	}
	stored := make([]int64, n)
	withWords := 0
	var rows pgx.Rows
	if err == nil {
		rows, err = tx.Query(ctx, insertSQL, ids, c.domains, c.users, c.withs, c.resources, c.outgoing, c.origins, c.replaces, c.stanzas, c.terms, stamp)
	}
	if err == nil {
		var id int64
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
			i, ok := slices.BinarySearch(ids, id)
			if !ok {
				return fmt.Errorf("stored id %d was not given", id)
			}
			stored[i] = id
			if c.terms[i].Valid {
				withWords++
			}
			return nil
		})
	}
	if err != nil {
		tx.Rollback(ctx)
		return nil, nil, fmt.Errorf("archive %d messages: %w", n, err)
	}
	a.merger.inserted(withWords)
	return stored, tx, nil
}

// scanMessage reads a row of id, stamp and stanza.
func scanMessage(row pgx.CollectableRow) (mam.Message, error) {
	var m mam.Message
	err := row.Scan(&m.ID, &m.Stamp, &m.Stanza)
	return m, err
}

// columns are entries' fields, column by column, for unnest.
type columns struct {
	domains, users, withs, resources, origins, replaces []string
	outgoing                                            []bool
	stanzas                                             [][]byte
	terms                                               []pgtype.TSVector
}

// columnsOf returns the columns of entries, with the words of each body
// for the text index.
func columnsOf(entries []mam.Entry) columns {
	n := len(entries)
	c := columns{
		domains: make([]string, n), users: make([]string, n), withs: make([]string, n), resources: make([]string, n),
		origins: make([]string, n), replaces: make([]string, n), outgoing: make([]bool, n),
		stanzas: make([][]byte, n), terms: make([]pgtype.TSVector, n),
	}
	for i, e := range entries {
		c.domains[i], c.users[i], c.withs[i], c.resources[i] = e.Domain, e.Username, e.With, e.WithResource
		c.outgoing[i], c.origins[i], c.replaces[i], c.stanzas[i] = e.Outgoing, e.OriginID, e.Replaces, e.Stanza
		c.terms[i] = ArchiveTerms(e.Domain, e.Username, e.Body)
	}
	return c
}

// Append stores entries, stamped now, and commits them: Insert and
// Commit in one, for tools and tests.
func (a *Archive) Append(ctx context.Context, entries []mam.Entry) ([]int64, error) {
	ids, err := a.NextIDs(ctx, len(entries))
	if err != nil {
		return nil, err
	}
	ids, tx, err := a.Insert(ctx, entries, ids, time.Now())
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("archive %d messages: commit: %w", len(entries), err)
	}
	return ids, nil
}

// Query returns one page; see mam.Store. Every page is a range scan of
// the (owner, id) or (owner, with, id) index in either direction.
func (a *Archive) Query(ctx context.Context, domain, username string, q mam.Query) (mam.Page, error) {
	if err := a.checkIDs(ctx, domain, username, q); err != nil {
		return mam.Page{}, err
	}
	p := newPageSQL("id, stamp, stanza", "archive_messages", "domain = $1 AND username = $2 AND "+placedRows, domain, username)
	if q.With != "" {
		p.and("with_jid = " + p.arg(q.With))
		if q.WithResource != "" {
			p.and("with_resource = " + p.arg(q.WithResource))
		}
	}
	if !q.Start.IsZero() {
		t := p.arg(q.Start)
		p.and("stamp >= " + t + " AND id >= " + firstIDFrom(t))
	}
	if !q.End.IsZero() {
		t := p.arg(q.End)
		p.and("stamp <= " + t + " AND id <= " + lastIDUntil(t))
	}
	pq := p.finish(q.AfterID, q.BeforeID, q.IDs, ownerTag(domain, username), q.Text, q.Last, q.Max)
	msgs, err := queryPage(ctx, a.pool, pq, a.walkFrom, scanMessage)
	if err != nil {
		return mam.Page{}, fmt.Errorf("query archive of %s@%s: %w", username, domain, err)
	}
	var page mam.Page
	page.Messages, page.Complete = trimPage(msgs, q.Max, q.Last)
	return page, nil
}

// checkIDs fails with storage.ErrNotFound when an id the query names is
// not in the archive (XEP-0313 §4.1.3, §4.3.2).
func (a *Archive) checkIDs(ctx context.Context, domain, username string, q mam.Query) error {
	want := namedIDs(q.IDs, q.AfterID, q.BeforeID)
	if len(want) == 0 {
		return nil
	}
	var n int
	err := a.pool.QueryRow(ctx, `SELECT count(*) FROM archive_messages
		WHERE domain = $1 AND username = $2 AND id = ANY($3) AND `+placedRows, domain, username, want).Scan(&n)
	if err == nil && n != len(want) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("look up archive ids of %s@%s: %w", username, domain, err)
	}
	return nil
}

// namedIDs returns the distinct archive ids an archive query names (its
// ids, after-id and before-id; 0 is none), sorted, for checking that they
// exist.
func namedIDs(ids []int64, after, before int64) []int64 {
	want := slices.Clone(ids)
	for _, id := range []int64{after, before} {
		if id != 0 {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	return slices.Compact(want)
}

// firstIDFrom returns SQL for the first archive id stamped at or after
// the time in parameter t, and lastIDUntil for the last one stamped at or
// before it. The writer stamps rows with a clock that never goes back and
// draws ids in commit order, so ids and stamps grow together across the
// whole table, and a date range is an id range: one probe of the stamp
// index each, then a range scan of the owner's index. Queries keep the
// stamp condition too, so that rows stamped otherwise (imported history)
// are never returned outside the range.
func firstIDFrom(t string) string {
	return "(SELECT id FROM archive_messages WHERE stamp >= " + t + " AND " + placedRows + " ORDER BY stamp, id LIMIT 1)"
}

func lastIDUntil(t string) string {
	return "(SELECT id FROM archive_messages WHERE stamp <= " + t + " AND " + placedRows + " ORDER BY stamp DESC, id DESC LIMIT 1)"
}

// retractSQL selects, for update, the rows a retraction replaces: the
// messages sender sent to recipient with the origin id, in both archives,
// and the corrections of each (XEP-0308), which hold its text as
// corrected and are linked to it by replaces_id (a room occupant's, only
// those from the same occupant); they come later in the same
// conversation, so they are a range of the (owner, with, id) index.
const retractSQL = `WITH retracted AS (SELECT domain, username, with_jid, id FROM archive_messages WHERE origin_id = $5 AND (
		(domain = $1 AND username = $2 AND outgoing AND with_jid = $6)
		OR (domain = $3 AND username = $4 AND NOT outgoing AND with_jid = $7 AND ($8 = '' OR with_resource = $8))))
	SELECT m.domain, m.username, m.id, m.stanza FROM archive_messages m, retracted r
	WHERE m.domain = r.domain AND m.username = r.username AND m.with_jid = r.with_jid
	AND (m.id = r.id OR (m.id > r.id AND m.replaces_id = r.id AND (m.outgoing OR $8 = '' OR m.with_resource = $8)))
	FOR UPDATE OF m`

// Retract replaces the messages a retraction refers to, and their
// corrections, by tombstones, in one transaction; see mam.Store.
func (a *Archive) Retract(ctx context.Context, sender, recipient, originID string, tombstone func([]byte) []byte) (int, error) {
	// A resource (neither a localpart nor a domain may hold '/') is a
	// room occupant's nick, which the recipient's rows must have too.
	sender, occupant, _ := strings.Cut(sender, "/")
	su, sd, ok1 := strings.Cut(sender, "@")
	ru, rd, ok2 := strings.Cut(recipient, "@")
	if !ok1 || !ok2 || originID == "" {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, retractSQL, sd, su, rd, ru, originID, recipient, sender, occupant)
		if err != nil {
			return err
		}
		type row struct {
			domain, username string
			id               int64
			stanza           []byte
		}
		found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.domain, &x.username, &x.id, &x.stanza)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range found {
			if _, err := tx.Exec(ctx, `UPDATE archive_messages SET stanza = $4, terms = NULL
				WHERE domain = $1 AND username = $2 AND id = $3`, x.domain, x.username, x.id, tombstone(x.stanza)); err != nil {
				return err
			}
		}
		n = len(found)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retract %s from %s to %s: %w", originID, sender, recipient, err)
	}
	return n, nil
}

// Withdraw replaces the message id of the archive of username@domain
// by placeholder, with one statement on the table's key; see mam.Store.
func (a *Archive) Withdraw(ctx context.Context, domain, username string, id int64, placeholder []byte) error {
	if _, err := a.pool.Exec(ctx, `UPDATE archive_messages SET stanza = $4, terms = NULL, origin_id = '', replaces_id = NULL
		WHERE domain = $1 AND username = $2 AND id = $3`, domain, username, id, placeholder); err != nil {
		return fmt.Errorf("withdraw archived message %d of %s@%s: %w", id, username, domain, err)
	}
	return nil
}

// Prefs returns the archiving preferences of username@domain.
func (a *Archive) Prefs(ctx context.Context, domain, username string) (mam.Prefs, error) {
	p := mam.Prefs{Default: "always"}
	err := a.pool.QueryRow(ctx, `SELECT default_mode, always, never FROM archive_prefs
		WHERE domain = $1 AND username = $2`, domain, username).Scan(&p.Default, &p.Always, &p.Never)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("load archive preferences of %s@%s: %w", username, domain, err)
	}
	return p, nil
}

// SetPrefs stores the archiving preferences of username@domain.
func (a *Archive) SetPrefs(ctx context.Context, domain, username string, p mam.Prefs) error {
	always, never := p.Always, p.Never
	if always == nil {
		always = []string{}
	}
	if never == nil {
		never = []string{}
	}
	_, err := a.pool.Exec(ctx, `INSERT INTO archive_prefs (domain, username, default_mode, always, never)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (domain, username) DO UPDATE SET default_mode = $3, always = $4, never = $5`,
		domain, username, p.Default, always, never)
	if isForeignKeyViolation(err) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store archive preferences of %s@%s: %w", username, domain, err)
	}
	return nil
}

// Expire deletes up to limit of the oldest messages stored before before.
func (a *Archive) Expire(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := a.pool.Exec(ctx, `DELETE FROM archive_messages WHERE (domain, username, id) IN (
		SELECT domain, username, id FROM archive_messages WHERE stamp < $1 ORDER BY stamp, id LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("expire archived messages: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
