package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"xmppd/mam"
)

// Imported history (xmppd import) is stored in two steps, because its
// rows need ids that grow with their stamps across the whole table, as
// every other row's do (firstIDFrom), and the ids depend on every
// imported row of every account:
//
//   - ImportArchived stores rows as they are read, with provisional ids
//     below importBelow, drawn from the table's sequence;
//   - PlaceImported gives them their final ids, negative and below every
//     other row's, in the order of their stamps.
//
// Provisional ids are the sequence's values plus provisionalBase, so they
// are unique, and below importBelow while the sequence is below 2^62.
const (
	importBelow     = math.MinInt64 / 2
	provisionalBase = math.MinInt64 + 1
)

// placedRows is the condition of the rows queries see, and provisional
// that of the imported rows waiting for their place, whose stamps and ids
// do not agree yet (with the constant inline, so that the planner uses
// the index of migration 0021).
var (
	placedRows  = "id >= " + strconv.FormatInt(importBelow, 10)
	provisional = "id < " + strconv.FormatInt(importBelow, 10)
)

// importSQL inserts rows with provisional ids and their own stamps.
// Owners must exist; their preferences are not consulted: the other
// server kept the messages.
const importSQL = `INSERT INTO archive_messages (id, domain, username, with_jid, with_resource, outgoing, stamp, origin_id, terms, stanza)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::timestamptz[], $8::text[], $9::tsvector[], $10::bytea[])`

// ImportArchived stores entries, entries[i] stamped stamps[i], as
// imported history, in one statement. PlaceImported must follow once
// every archive of the import is stored.
func (a *Archive) ImportArchived(ctx context.Context, entries []mam.Entry, stamps []time.Time) error {
	n := len(entries)
	if len(stamps) != n {
		return fmt.Errorf("import %d archived messages with %d stamps", n, len(stamps))
	}
	ids, err := a.NextIDs(ctx, n)
	if err != nil {
		return err
	}
	for i := range ids {
		ids[i] += provisionalBase
	}
	c := columnsOf(entries)
	if _, err := a.pool.Exec(ctx, importSQL, ids, c.domains, c.users, c.withs, c.resources, c.outgoing, stamps, c.origins, c.terms, c.stanzas); err != nil {
		return fmt.Errorf("import %d archived messages: %w", n, err)
	}
	return nil
}

// PlaceImported gives the rows ImportArchived stored their final ids:
// below every other row's, increasing with their stamps (in the order of
// import for equal stamps). Rows stamped at or after the earliest other
// row, or later than now, would break the order of ids and stamps; they
// are deleted and counted in dropped. It returns how many rows it placed.
// Without imported rows it costs one probe of an index that holds only
// them.
func (a *Archive) PlaceImported(ctx context.Context) (placed, dropped int64, err error) {
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM archive_messages WHERE `+provisional+`)`).Scan(&waiting); err != nil || !waiting {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM archive_messages WHERE `+provisional+`
			AND stamp >= (SELECT least(min(stamp), now()) FROM archive_messages WHERE `+placedRows+`)`)
		if err != nil {
			return err
		}
		dropped = tag.RowsAffected()
		// Ids grow with stamps: the earliest placed row has the lowest id.
		tag, err = tx.Exec(ctx, `WITH imported AS (
				SELECT domain, username, id, row_number() OVER (ORDER BY stamp, id) AS n, count(*) OVER () AS total
				FROM archive_messages WHERE `+provisional+`),
			low AS (SELECT least(coalesce((SELECT id FROM archive_messages WHERE `+placedRows+` ORDER BY stamp, id LIMIT 1), 0), 0) AS id)
			UPDATE archive_messages m SET id = low.id - 1 - i.total + i.n
			FROM imported i, low
			WHERE m.domain = i.domain AND m.username = i.username AND m.id = i.id`)
		placed = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("place imported archived messages: %w", err)
	}
	return placed, dropped, nil
}

// Earliest returns the stamp of the earliest archived message (imported
// ones waiting for their place aside), false when there is none.
func (a *Archive) Earliest(ctx context.Context) (time.Time, bool, error) {
	var stamp time.Time
	err := a.pool.QueryRow(ctx, `SELECT stamp FROM archive_messages WHERE `+placedRows+` ORDER BY stamp LIMIT 1`).Scan(&stamp)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("earliest archived message: %w", err)
	}
	return stamp, true, nil
}

// After returns up to max messages of the archive of username@domain with
// ids above after, oldest first, whether after is still there or not:
// for exports, which page through archives that retention may be
// trimming meanwhile.
func (a *Archive) After(ctx context.Context, domain, username string, after int64, max int) ([]mam.Message, error) {
	msgs, err := collect(ctx, a.pool, `SELECT id, stamp, stanza FROM archive_messages
		WHERE domain = $1 AND username = $2 AND id > $3 AND `+placedRows+` ORDER BY id LIMIT $4`,
		[]any{domain, username, after, max}, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("read archive of %s@%s: %w", username, domain, err)
	}
	return msgs, nil
}
