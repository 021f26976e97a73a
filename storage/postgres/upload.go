package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/storage"
	"xmppd/upload"
)

// Uploads stores HTTP upload slots and their files (table uploads, the
// files as large objects).
type Uploads struct {
	pool *pgxpool.Pool
}

// NewUploads returns the upload store using pool.
func NewUploads(pool *pgxpool.Pool) *Uploads { return &Uploads{pool: pool} }

// Uploads is the store of package upload.
var _ upload.Store = (*Uploads)(nil)

// copyBuffer is the size of the writes and reads of a large object.
const copyBuffer = 256 << 10

// CreateSlot records s unless the owner's files and pending slots would
// then exceed quota bytes.
func (u *Uploads) CreateSlot(ctx context.Context, s upload.Slot, quota int64, pendingSince time.Time) error {
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		// The account's lock makes its requests take turns, so two cannot
		// both pass the quota.
		var used int64
		err := tx.QueryRow(ctx, `SELECT (SELECT coalesce(sum(size), 0) FROM uploads p
				WHERE p.domain = a.domain AND p.username = a.username AND (p.uploaded IS NOT NULL OR p.requested > $3))
			FROM accounts a WHERE domain = $1 AND username = $2 FOR NO KEY UPDATE`,
			s.Owner.Domainpart(), s.Owner.Localpart(), pendingSince).Scan(&used)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return storage.ErrNotFound
		case err != nil:
			return err
		case used+s.Size > quota:
			return fmt.Errorf("%w: %d bytes used, %d asked, quota %d", upload.ErrQuota, used, s.Size, quota)
		}
		_, err = tx.Exec(ctx, `INSERT INTO uploads (id, domain, username, filename, size, content_type) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.ID, s.Owner.Domainpart(), s.Owner.Localpart(), s.Filename, s.Size, s.ContentType)
		return err
	})
	if err != nil {
		return fmt.Errorf("grant an upload slot to %s: %w", s.Owner, err)
	}
	return nil
}

// Put stores body as the file of the slot, in one transaction: a failed
// or short upload leaves the slot as it was.
func (u *Uploads) Put(ctx context.Context, id, filename string, pendingSince time.Time, body io.Reader) error {
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var size int64
		var uploaded *time.Time
		err := tx.QueryRow(ctx, `SELECT size, uploaded FROM uploads WHERE id = $1 AND filename = $2 AND requested > $3 FOR UPDATE`,
			id, filename, pendingSince).Scan(&size, &uploaded)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return upload.ErrNoSlot
		case err != nil:
			return err
		case uploaded != nil:
			return upload.ErrUploaded
		}
		los := tx.LargeObjects()
		oid, err := los.Create(ctx, 0)
		if err != nil {
			return err
		}
		lo, err := los.Open(ctx, oid, pgx.LargeObjectModeWrite)
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(lo, io.LimitReader(body, size+1), make([]byte, copyBuffer))
		if err != nil {
			return fmt.Errorf("%w after %d bytes: %w", upload.ErrSize, n, err)
		}
		if n != size {
			return fmt.Errorf("%w: %d bytes, the slot is for %d", upload.ErrSize, n, size)
		}
		if err := lo.Close(); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE uploads SET content = $2, uploaded = now() WHERE id = $1`, id, oid)
		return err
	})
	if err != nil {
		return fmt.Errorf("store the file of upload slot %s: %w", id, err)
	}
	return nil
}

// Get calls serve with the file and a reader of its bytes, in a read-only
// transaction that lasts as long as serve.
func (u *Uploads) Get(ctx context.Context, id, filename string, uploadedSince time.Time, serve func(upload.File, io.Reader) error) error {
	return pgx.BeginTxFunc(ctx, u.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var f upload.File
		var oid uint32
		err := tx.QueryRow(ctx, `SELECT size, content_type, uploaded, content FROM uploads
			WHERE id = $1 AND filename = $2 AND uploaded > $3`, id, filename, uploadedSince).Scan(&f.Size, &f.ContentType, &f.Uploaded, &oid)
		if errors.Is(err, pgx.ErrNoRows) {
			return upload.ErrNoSlot
		}
		if err != nil {
			return fmt.Errorf("look up uploaded file %s: %w", id, err)
		}
		los := tx.LargeObjects()
		lo, err := los.Open(ctx, oid, pgx.LargeObjectModeRead)
		if err != nil {
			return fmt.Errorf("open uploaded file %s: %w", id, err)
		}
		return serve(f, bufferedReader{lo})
	})
}

// bufferedReader reads a large object in copyBuffer steps, whatever the
// caller's buffer: each read is a round trip.
type bufferedReader struct{ r io.Reader }

func (b bufferedReader) WriteTo(w io.Writer) (int64, error) {
	return io.CopyBuffer(w, struct{ io.Reader }{b.r}, make([]byte, copyBuffer))
}

func (b bufferedReader) Read(p []byte) (int, error) { return b.r.Read(p) }

// Expire deletes files put before uploadedBefore (none when it is zero)
// and unused slots requested before pendingBefore, 1000 at a time; the
// table's trigger removes their large objects.
func (u *Uploads) Expire(ctx context.Context, uploadedBefore, pendingBefore time.Time) (int64, error) {
	var total int64
	for {
		tag, err := u.pool.Exec(ctx, `DELETE FROM uploads WHERE id IN (SELECT id FROM uploads
			WHERE (uploaded IS NULL AND requested < $2) OR (uploaded < $1) LIMIT 1000)`, uploadedBefore, pendingBefore)
		if err != nil {
			return total, fmt.Errorf("expire uploads: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 1000 {
			return total, nil
		}
	}
}
