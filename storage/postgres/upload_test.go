package postgres_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/upload"
)

// statementCounter counts the statements a pool sends.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countedUploads returns an upload store on a fresh schema whose
// statements are counted, and the account juliet@capulet.lit.
func countedUploads(tb testing.TB) (*postgres.Uploads, *statementCounter) {
	tb.Helper()
	ctx := context.Background()
	url := pgtest.URL(tb)
	migrated, err := storage.Open(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	err = postgres.NewAccounts(migrated).Create(ctx, "capulet.lit", "juliet", nil)
	migrated.Close()
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatal(err)
	}
	counter := &statementCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return postgres.NewUploads(pool), counter
}

// uploadedFile puts size random bytes as a file and returns them and the
// URL the files' handler, on a real socket, serves them at.
func uploadedFile(tb testing.TB, store *postgres.Uploads, size int) ([]byte, string) {
	tb.Helper()
	ctx := context.Background()
	file := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{})
	rng.Read(file)
	sl := upload.Slot{ID: "video", Owner: jid.MustParse("juliet@capulet.lit"), Filename: "balcony.webm", Size: int64(size), ContentType: "video/webm"}
	if err := store.CreateSlot(ctx, sl, upload.Limits{Quota: 1 << 30}, time.Now().Add(-time.Minute)); err != nil {
		tb.Fatal(err)
	}
	if err := store.Put(ctx, sl.ID, sl.Filename, time.Now().Add(-time.Minute), sl.ContentType, sl.Size, bytes.NewReader(file)); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer((&upload.Files{Store: store, SlotTime: time.Minute}).Handler())
	tb.Cleanup(srv.Close)
	return file, srv.URL + upload.Path + sl.ID + "/" + sl.Filename
}

// get fetches url, with the Range header rng unless it is "", and
// returns the status and body.
func get(tb testing.TB, url, rng string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestUploadRangeReadsInChunks: a range of a file, as browsers ask for
// when they play a video, is read in chunks of the full GET's size, not
// in the 32 KiB pieces net/http asks for: a megabyte takes a few
// statements, not one per 32 KiB.
func TestUploadRangeReadsInChunks(t *testing.T) {
	t.Parallel()
	store, counter := countedUploads(t)
	file, url := uploadedFile(t, store, 3<<20)
	for _, tc := range []struct {
		rng        string
		from, to   int
		statements int64
	}{
		// One to look the file up, four of 256 KiB for the megabyte.
		{"bytes=1048576-2097151", 1 << 20, 2 << 20, 5},
		// Not on a chunk boundary: one more.
		{"bytes=1000000-2048575", 1000000, 2048576, 6},
		// The rest of the file from a point, as a browser seeks in a video.
		{"bytes=2097152-", 2 << 20, 3 << 20, 5},
	} {
		before := counter.n.Load()
		status, body := get(t, url, tc.rng)
		if status != http.StatusPartialContent || !bytes.Equal(body, file[tc.from:tc.to]) {
			t.Fatalf("GET %s: %d with %d bytes, want 206 with bytes %d to %d", tc.rng, status, len(body), tc.from, tc.to)
		}
		if n := counter.n.Load() - before; n > tc.statements {
			t.Errorf("GET %s took %d statements, want at most %d", tc.rng, n, tc.statements)
		}
	}
}

// BenchmarkUploadGet measures a full GET of an 8 MB file and a GET of a
// megabyte of it, with the statements each takes.
func BenchmarkUploadGet(b *testing.B) {
	store, counter := countedUploads(b)
	file, url := uploadedFile(b, store, 8<<20)
	for _, bc := range []struct{ name, rng string }{
		{"full", ""},
		{"range1MB", "bytes=3000000-4048575"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			before := counter.n.Load()
			var n int
			for b.Loop() {
				_, body := get(b, url, bc.rng)
				n = len(body)
			}
			if bc.rng == "" && n != len(file) {
				b.Fatalf("got %d bytes, want %d", n, len(file))
			}
			b.SetBytes(int64(n))
			b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "statements/op")
		})
	}
}
