package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/muc"
	"xmppd/storage"
)

// MUC stores multi-user chat rooms, their affiliations and their archives
// (tables muc_rooms, muc_affiliations, muc_messages).
type MUC struct {
	pool *pgxpool.Pool
}

// NewMUC returns the room store using pool.
func NewMUC(pool *pgxpool.Pool) *MUC { return &MUC{pool: pool} }

// MUC is the store of package muc.
var _ muc.Store = (*MUC)(nil)

// Rooms returns every room of service with its affiliations.
func (m *MUC) Rooms(ctx context.Context, service string) ([]muc.StoredRoom, error) {
	rows, err := m.pool.Query(ctx, `SELECT r.name, r.config, r.subject, r.subject_by, coalesce(r.subject_by_id, ''), r.vcard,
		coalesce((SELECT jsonb_object_agg(a.jid, a.affiliation) FROM muc_affiliations a
			WHERE a.service = r.service AND a.name = r.name), '{}'),
		coalesce((SELECT jsonb_object_agg(a.jid, a.nick) FROM muc_affiliations a
			WHERE a.service = r.service AND a.name = r.name AND a.nick <> ''), '{}')
		FROM muc_rooms r WHERE r.service = $1 ORDER BY r.name`, service)
	if err != nil {
		return nil, fmt.Errorf("load rooms of %s: %w", service, err)
	}
	rooms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (muc.StoredRoom, error) {
		var r muc.StoredRoom
		var cfg []byte
		if err := row.Scan(&r.Name, &cfg, &r.Subject, &r.SubjectBy, &r.SubjectByID, &r.VCard, &r.Affiliations, &r.Nicks); err != nil {
			return r, err
		}
		return r, json.Unmarshal(cfg, &r.Config)
	})
	if err != nil {
		return nil, fmt.Errorf("load rooms of %s: %w", service, err)
	}
	return rooms, nil
}

// SaveRoom creates or replaces the room r and its affiliations in one
// transaction; its archive stays.
func (m *MUC) SaveRoom(ctx context.Context, service string, r muc.StoredRoom) error {
	cfg, err := json.Marshal(r.Config)
	if err != nil {
		return fmt.Errorf("save room %s@%s: %w", r.Name, service, err)
	}
	n := len(r.Affiliations)
	jids, affs, nicks := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	for j, a := range r.Affiliations {
		jids, affs, nicks = append(jids, j), append(affs, a), append(nicks, r.Nicks[j])
	}
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO muc_rooms (service, name, persistent, config, subject, subject_by, subject_by_id, vcard)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), $8)
			ON CONFLICT (service, name) DO UPDATE SET persistent = $3, config = $4, subject = $5, subject_by = $6,
				subject_by_id = nullif($7, ''), vcard = $8`,
			service, r.Name, r.Config.Persistent, cfg, r.Subject, r.SubjectBy, r.SubjectByID, r.VCard)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM muc_affiliations WHERE service = $1 AND name = $2`, service, r.Name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO muc_affiliations (service, name, jid, affiliation, nick)
			SELECT $1, $2, u.jid, u.affiliation, u.nick FROM unnest($3::text[], $4::text[], $5::text[]) AS u(jid, affiliation, nick)`,
			service, r.Name, jids, affs, nicks)
		return err
	})
	if err != nil {
		return fmt.Errorf("save room %s@%s: %w", r.Name, service, err)
	}
	return nil
}

// DeleteAffiliations deletes jid's affiliations and registered nicknames
// in every room of service.
func (m *MUC) DeleteAffiliations(ctx context.Context, service, jid string) error {
	if _, err := m.pool.Exec(ctx, `DELETE FROM muc_affiliations WHERE service = $1 AND jid = $2`, service, jid); err != nil {
		return fmt.Errorf("delete the room affiliations of %s on %s: %w", jid, service, err)
	}
	return nil
}

// DeleteRoom deletes a room; its affiliations and archive go with it.
func (m *MUC) DeleteRoom(ctx context.Context, service, name string) error {
	tag, err := m.pool.Exec(ctx, `DELETE FROM muc_rooms WHERE service = $1 AND name = $2`, service, name)
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete room %s@%s: %w", name, service, err)
	}
	return nil
}

// DeleteTemporary deletes the rooms of service that are not persistent.
func (m *MUC) DeleteTemporary(ctx context.Context, service string) (int, error) {
	tag, err := m.pool.Exec(ctx, `DELETE FROM muc_rooms WHERE service = $1 AND NOT persistent`, service)
	if err != nil {
		return 0, fmt.Errorf("delete temporary rooms of %s: %w", service, err)
	}
	return int(tag.RowsAffected()), nil
}

// NextIDs reserves n ids of the archive's sequence.
func (m *MUC) NextIDs(ctx context.Context, n int) ([]int64, error) {
	ids, err := nextIDs(ctx, m.pool, "muc_messages", n)
	if err != nil {
		return nil, fmt.Errorf("reserve %d room archive ids: %w", n, err)
	}
	return ids, nil
}

// writeSQL inserts a batch in one statement, leaving out the messages of
// rooms deleted since they were sent.
const writeSQL = `INSERT INTO muc_messages (id, service, name, stamp, nick, sender, origin_id, body, terms, stanza)
	SELECT u.id, $1, u.name, u.stamp, u.nick, u.sender, u.origin_id, u.body, u.terms, u.stanza
	FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::tsvector[], $10::bytea[])
		AS u(id, name, stamp, nick, sender, origin_id, body, terms, stanza)
	WHERE EXISTS (SELECT 1 FROM muc_rooms r WHERE r.service = $1 AND r.name = u.name)`

// Write archives msgs with one statement; see muc.Store.
func (m *MUC) Write(ctx context.Context, service string, msgs []muc.Message) error {
	if _, err := m.pool.Exec(ctx, writeSQL, writeArgs(service, msgs)...); err != nil {
		return fmt.Errorf("archive %d room messages of %s: %w", len(msgs), service, err)
	}
	return nil
}

// writeArgs returns the arguments of writeSQL.
func writeArgs(service string, msgs []muc.Message) []any {
	n := len(msgs)
	ids, stamps := make([]int64, n), make([]time.Time, n)
	names, nicks, senders, origins, bodies := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	terms, stanzas := make([]pgtype.TSVector, n), make([][]byte, n)
	for i, x := range msgs {
		ids[i], stamps[i], names[i], nicks[i], senders[i] = x.ID, x.Stamp, x.Room, x.Nick, x.Sender
		origins[i], bodies[i], stanzas[i] = x.OriginID, x.Body, x.Stanza
		terms[i] = RoomTerms(service, x.Room, x.Body)
	}
	return []any{service, ids, names, stamps, nicks, senders, origins, bodies, terms, stanzas}
}

// Append archives msg in the room now, with a new id, and returns it: for
// tools and tests. A room without a row is not found.
func (m *MUC) Append(ctx context.Context, service, name string, msg muc.Message) (int64, error) {
	ids, err := m.NextIDs(ctx, 1)
	if err != nil {
		return 0, err
	}
	msg.ID, msg.Room = ids[0], name
	if msg.Stamp.IsZero() {
		msg.Stamp = time.Now()
	}
	tag, err := m.pool.Exec(ctx, writeSQL, writeArgs(service, []muc.Message{msg})...)
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("archive a message of room %s@%s: %w", name, service, err)
	}
	return msg.ID, nil
}

// Query returns one page of a room's archive: a range scan of the
// (service, name, id) index, or of the nick or sender index, in either
// direction; a full-text search uses the GIN index of the room's words.
func (m *MUC) Query(ctx context.Context, service, name string, q muc.Query) (muc.Page, error) {
	if err := m.checkIDs(ctx, service, name, q); err != nil {
		return muc.Page{}, err
	}
	p := newPageSQL("id, stamp, nick, sender, origin_id, body, stanza", "muc_messages", "service = $1 AND name = $2", service, name)
	if q.Nick != "" {
		p.and("nick = " + p.arg(q.Nick))
	}
	if q.Sender != "" {
		p.and("sender = " + p.arg(q.Sender))
	}
	if !q.Start.IsZero() {
		p.and("stamp >= " + p.arg(q.Start))
	}
	if !q.End.IsZero() {
		p.and("stamp <= " + p.arg(q.End))
	}
	pq := p.finish(q.AfterID, q.BeforeID, q.IDs, roomTag(service, name), q.Text, q.Last, q.Max)
	msgs, err := queryPage(ctx, m.pool, pq, frequentMatches, func(row pgx.CollectableRow) (muc.Message, error) {
		x := muc.Message{Room: name}
		err := row.Scan(&x.ID, &x.Stamp, &x.Nick, &x.Sender, &x.OriginID, &x.Body, &x.Stanza)
		return x, err
	})
	if err != nil {
		return muc.Page{}, fmt.Errorf("query archive of room %s@%s: %w", name, service, err)
	}
	var page muc.Page
	page.Messages, page.Complete = trimPage(msgs, q.Max, q.Last)
	return page, nil
}

// checkIDs fails with storage.ErrNotFound when an id the query names is
// not in the room's archive (XEP-0313 §4.1.3).
func (m *MUC) checkIDs(ctx context.Context, service, name string, q muc.Query) error {
	want := namedIDs(q.IDs, q.AfterID, q.BeforeID)
	if len(want) == 0 {
		return nil
	}
	var n int
	err := m.pool.QueryRow(ctx, `SELECT count(*) FROM muc_messages
		WHERE service = $1 AND name = $2 AND id = ANY($3)`, service, name, want).Scan(&n)
	if err == nil && n != len(want) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("look up archive ids of room %s@%s: %w", name, service, err)
	}
	return nil
}

// Retract replaces an archived message by its tombstone, clearing its
// body and words so that its text is gone from the archive and from
// searches, and archives the retraction, in one transaction.
func (m *MUC) Retract(ctx context.Context, service, name string, id int64, tombstone []byte, retraction muc.Message) error {
	retraction.Room = name
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE muc_messages SET stanza = $4, body = '', terms = NULL
			WHERE service = $1 AND name = $2 AND id = $3`, service, name, id, tombstone)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		_, err = tx.Exec(ctx, writeSQL, writeArgs(service, []muc.Message{retraction})...)
		return err
	})
	if err != nil {
		return fmt.Errorf("retract message %d of room %s@%s: %w", id, name, service, err)
	}
	return nil
}

// Secret returns the deployment's secret (table server_secret).
func (m *MUC) Secret(ctx context.Context) ([]byte, error) { return ServerSecret(ctx, m.pool) }
