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

// copyBuffer is the size of the writes and reads of a large object: one
// statement each, and the memory an upload or a download holds.
const copyBuffer = 256 << 10

// CreateSlot records s unless the owner's files and pending slots would
// then exceed the quota, or it was granted its slots of the last 24 hours
// already.
func (u *Uploads) CreateSlot(ctx context.Context, s upload.Slot, limits upload.Limits, pendingSince time.Time) error {
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		// The account's lock makes its requests take turns, so two cannot
		// both pass a limit.
		var used int64
		var today int
		var oldest *time.Time
		err := tx.QueryRow(ctx, `SELECT p.used, p.today, p.oldest FROM accounts a, LATERAL (
				SELECT coalesce(sum(size) FILTER (WHERE uploaded IS NOT NULL OR requested > $3), 0) AS used,
					count(*) FILTER (WHERE requested > now() - interval '1 day') AS today,
					min(requested) FILTER (WHERE requested > now() - interval '1 day') AS oldest
				FROM uploads WHERE domain = a.domain AND username = a.username) p
			WHERE a.domain = $1 AND a.username = $2 FOR NO KEY UPDATE OF a`,
			s.Owner.Domainpart(), s.Owner.Localpart(), pendingSince).Scan(&used, &today, &oldest)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return storage.ErrNotFound
		case err != nil:
			return err
		case limits.SlotsPerDay > 0 && today >= limits.SlotsPerDay:
			return &upload.SlotLimitError{Retry: oldest.Add(24 * time.Hour)}
		case used+s.Size > limits.Quota:
			return fmt.Errorf("%w: %d bytes used, %d asked, quota %d", upload.ErrQuota, used, s.Size, limits.Quota)
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

// Put stores body as the file of the slot. It checks the request's size
// and type against the slot first, so that a wrong request neither holds
// the slot nor has its body read. It then claims the slot with a new
// large object, in one statement, so that one PUT alone fills it, and
// writes the body in chunks of copyBuffer bytes, each a statement of its
// own: a slow client holds no transaction and no connection of the pool
// between its chunks. A failed or short upload releases the slot and
// drops what was written.
func (u *Uploads) Put(ctx context.Context, id, filename string, pendingSince time.Time, contentType string, size int64, body io.Reader) error {
	var slotSize int64
	var slotType string
	var taken, pending bool
	err := u.pool.QueryRow(ctx, `SELECT size, content_type, content IS NOT NULL, requested > $3 FROM uploads WHERE id = $1 AND filename = $2`,
		id, filename, pendingSince).Scan(&slotSize, &slotType, &taken, &pending)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return upload.ErrNoSlot
	case err != nil:
		return fmt.Errorf("look up upload slot %s: %w", id, err)
	case taken:
		return upload.ErrUploaded
	case !pending:
		return upload.ErrNoSlot
	case size != slotSize:
		return fmt.Errorf("%w: %d bytes, the slot is for %d", upload.ErrSize, size, slotSize)
	case contentType != "" && !upload.SameType(slotType, contentType):
		return fmt.Errorf("%w: %q, the slot is for %q", upload.ErrType, contentType, slotType)
	}
	var oid uint32
	err = u.pool.QueryRow(ctx, `UPDATE uploads SET content = lo_create(0)
		WHERE id = $1 AND filename = $2 AND requested > $3 AND content IS NULL RETURNING content`,
		id, filename, pendingSince).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another PUT claimed it since, or it expired.
		if u.pool.QueryRow(ctx, `SELECT content IS NOT NULL FROM uploads WHERE id = $1 AND filename = $2`, id, filename).Scan(&taken) == nil && taken {
			return upload.ErrUploaded
		}
		return upload.ErrNoSlot
	}
	if err != nil {
		return fmt.Errorf("claim upload slot %s: %w", id, err)
	}
	if err := u.write(ctx, oid, size, body); err != nil {
		u.release(id, oid)
		return fmt.Errorf("store the file of upload slot %s: %w", id, err)
	}
	// The type is set with the upload, not the claim: a failed PUT leaves
	// the slot as it was requested.
	tag, err := u.pool.Exec(ctx, `UPDATE uploads SET uploaded = now(), content_type = $3 WHERE id = $1 AND content = $2`,
		id, oid, upload.FileType(slotType, contentType))
	if err != nil {
		u.release(id, oid)
		return fmt.Errorf("store the file of upload slot %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return upload.ErrNoSlot // expired meanwhile
	}
	return nil
}

// write copies body, which must hold size bytes, into the large object.
func (u *Uploads) write(ctx context.Context, oid uint32, size int64, body io.Reader) error {
	buf := make([]byte, copyBuffer)
	r := io.LimitReader(body, size+1)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if off+int64(n) > size {
			return fmt.Errorf("%w: more than the slot's %d bytes", upload.ErrSize, size)
		}
		if n > 0 {
			if _, err := u.pool.Exec(ctx, `SELECT lo_put($1, $2, $3)`, oid, off, buf[:n]); err != nil {
				return err
			}
			off += int64(n)
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			if off != size {
				return fmt.Errorf("%w: %d bytes, the slot is for %d", upload.ErrSize, off, size)
			}
			return nil
		case err != nil:
			return fmt.Errorf("%w after %d bytes: %w", upload.ErrSize, off, err)
		}
	}
}

// release gives the slot back after a failed upload and drops its large
// object; the client may try again while the slot lasts.
func (u *Uploads) release(id string, oid uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u.pool.Exec(ctx, `WITH r AS (UPDATE uploads SET content = NULL WHERE id = $1 AND content = $2 AND uploaded IS NULL RETURNING $2::oid AS oid)
		SELECT lo_unlink(oid) FROM r`, id, oid)
}

// Get calls serve with the file and a reader of its bytes, which reads
// the large object copyBuffer bytes per statement, holding no
// transaction while the client is slow to take them.
func (u *Uploads) Get(ctx context.Context, id, filename string, uploadedSince time.Time, serve func(upload.File, io.Reader) error) error {
	var f upload.File
	var oid uint32
	err := u.pool.QueryRow(ctx, `SELECT size, content_type, uploaded, content FROM uploads
		WHERE id = $1 AND filename = $2 AND uploaded > $3`, id, filename, uploadedSince).Scan(&f.Size, &f.ContentType, &f.Uploaded, &oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return upload.ErrNoSlot
	}
	if err != nil {
		return fmt.Errorf("look up uploaded file %s: %w", id, err)
	}
	return serve(f, &objectReader{ctx: ctx, pool: u.pool, oid: oid, size: f.Size})
}

// objectReader reads a large object copyBuffer bytes per statement, and
// serves Reads, whatever their size, from the last chunk it read:
// net/http reads ranges 32 KiB at a time, and a browser playing a video
// asks for many. A GET holds one chunk in memory.
type objectReader struct {
	ctx       context.Context
	pool      *pgxpool.Pool
	oid       uint32
	off, size int64
	chunk     []byte // the object's bytes from chunkOff
	chunkOff  int64
}

// buffered returns the bytes read already from the offset on, reading
// the next chunk when there are none.
func (r *objectReader) buffered() ([]byte, error) {
	if r.off >= r.size {
		return nil, io.EOF
	}
	if r.off < r.chunkOff || r.off >= r.chunkOff+int64(len(r.chunk)) {
		var chunk []byte
		n := min(copyBuffer, r.size-r.off)
		if err := r.pool.QueryRow(r.ctx, `SELECT lo_get($1, $2, $3)`, r.oid, r.off, int32(n)).Scan(&chunk); err != nil {
			return nil, fmt.Errorf("read uploaded file at %d: %w", r.off, err)
		}
		if len(chunk) == 0 {
			return nil, io.ErrUnexpectedEOF
		}
		r.chunk, r.chunkOff = chunk, r.off
	}
	return r.chunk[r.off-r.chunkOff:], nil
}

func (r *objectReader) Read(p []byte) (int, error) {
	b, err := r.buffered()
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	r.off += int64(n)
	return n, nil
}

// Seek moves where the next Read starts, for range requests.
func (r *objectReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 {
		return r.off, errors.New("seek before the start of an uploaded file")
	}
	r.off = offset
	return offset, nil
}

// WriteTo writes the rest of the object to w, a chunk at a time.
func (r *objectReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b, err := r.buffered()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(b)
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// Expire deletes files put before uploadedBefore (none when it is zero)
// and unused slots requested before pendingBefore, 1000 at a time; the
// table's trigger removes their large objects. A slot whose upload is
// under way is left a day longer: a slow client may still be sending.
func (u *Uploads) Expire(ctx context.Context, uploadedBefore, pendingBefore time.Time) (int64, error) {
	var total int64
	for {
		tag, err := u.pool.Exec(ctx, `DELETE FROM uploads WHERE id IN (SELECT id FROM uploads
			WHERE (uploaded IS NULL AND requested < $2 AND (content IS NULL OR requested < $2 - interval '1 day'))
				OR (uploaded < $1) LIMIT 1000)`, uploadedBefore, pendingBefore)
		if err != nil {
			return total, fmt.Errorf("expire uploads: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 1000 {
			return total, nil
		}
	}
}
