package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/mam"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func archiveEntry(owner, with, body string, outgoing bool) mam.Entry {
	return mam.Entry{Domain: "example.org", Username: owner, With: with + "@example.org", Outgoing: outgoing,
		OriginID: body, Body: body, Stanza: []byte("<message xmlns='jabber:client'><body>" + body + "</body></message>")}
}

// pageAll pages through q in its direction and returns the ids in
// archive order, failing on repeats, gaps in order, or a wrong complete.
func pageAll(t *testing.T, a *postgres.Archive, q mam.Query) []int64 {
	t.Helper()
	var ids []int64
	seen := map[int64]bool{}
	for range 1000 {
		p, err := a.Query(context.Background(), "example.org", "juliet", q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Messages) > q.Max {
			t.Fatalf("page of %d > max %d", len(p.Messages), q.Max)
		}
		for i, m := range p.Messages {
			if seen[m.ID] || (i > 0 && m.ID <= p.Messages[i-1].ID) {
				t.Fatalf("id %d repeated or out of order", m.ID)
			}
			seen[m.ID] = true
		}
		if q.Last {
			ids = append(append([]int64{}, idsOf(p)...), ids...)
		} else {
			ids = append(ids, idsOf(p)...)
		}
		if p.Complete {
			return ids
		}
		if len(p.Messages) == 0 {
			t.Fatal("an empty page that is not complete")
		}
		if q.Last {
			q.BeforeID = p.Messages[0].ID
		} else {
			q.AfterID = p.Messages[len(p.Messages)-1].ID
		}
	}
	t.Fatal("paging did not end")
	return nil
}

// archiveFor returns a fresh database with the accounts users of
// example.org, and its archive store.
func archiveFor(t *testing.T, users ...string) (*pgxpool.Pool, *postgres.Archive) {
	t.Helper()
	pool := pgtest.Pool(t)
	for _, u := range users {
		if err := postgres.NewAccounts(pool).Create(context.Background(), "example.org", u, nil); err != nil {
			t.Fatal(err)
		}
	}
	return pool, postgres.NewArchive(pool)
}

func idsOf(p mam.Page) []int64 {
	var ids []int64
	for _, m := range p.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestArchive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a := archiveFor(t, "juliet", "romeo", "nurse")

	// 1000 messages: every third with the nurse; one to nobody.
	var entries []mam.Entry
	for i := range 1000 {
		with := "romeo"
		if i%3 == 0 {
			with = "nurse"
		}
		entries = append(entries, archiveEntry("juliet", with, fmt.Sprintf("m%d", i), i%2 == 0))
	}
	entries = append(entries, archiveEntry("nobody", "juliet", "lost", false))
	ids, err := a.Append(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	if ids[1000] != 0 {
		t.Fatalf("a message for no account got id %d", ids[1000])
	}
	for i := 1; i < 1000; i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("ids not increasing: %v", ids[i-1:i+1])
		}
	}
	more, err := a.Append(ctx, []mam.Entry{archiveEntry("juliet", "romeo", "later", true)})
	if err != nil || more[0] <= ids[999] {
		t.Fatalf("a later batch got %v, %v", more, err)
	}
	all := append(ids[:1000:1000], more[0])

	for _, tc := range []struct {
		name string
		q    mam.Query
		want func(i int) bool // by index into all
	}{
		{"everything", mam.Query{}, func(int) bool { return true }},
		{"with", mam.Query{With: "nurse@example.org"}, func(i int) bool { return i < 1000 && i%3 == 0 }},
		{"ids", mam.Query{IDs: []int64{ids[5], ids[7], ids[500]}}, func(i int) bool { return i == 5 || i == 7 || i == 500 }},
		{"between", mam.Query{AfterID: ids[100], BeforeID: ids[400], With: "romeo@example.org"}, func(i int) bool { return i > 100 && i < 400 && i%3 != 0 }},
		{"words", mam.Query{Text: "m77"}, func(i int) bool { return i == 77 }},
	} {
		var want []int64
		for i, id := range all {
			if tc.want(i) {
				want = append(want, id)
			}
		}
		for _, last := range []bool{false, true} {
			q := tc.q
			q.Max, q.Last = 37, last
			got := pageAll(t, a, q)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s (last %v): got %d ids, want %d", tc.name, last, len(got), len(want))
			}
		}
	}

	if _, err := a.Query(ctx, "example.org", "romeo", mam.Query{Max: 10, AfterID: ids[0]}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another archive's id: %v, want storage.ErrNotFound", err)
	}
	if _, err := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10, IDs: []int64{ids[0], 1 << 60}}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an unknown id: %v, want storage.ErrNotFound", err)
	}
	p, err := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10, Start: time.Now().Add(time.Hour)})
	if err != nil || len(p.Messages) != 0 || !p.Complete {
		t.Errorf("future start: %d messages, complete %v, %v", len(p.Messages), p.Complete, err)
	}
}

// Date bounds select exactly the messages stamped in the range, in pages
// in either direction.
func TestArchiveDates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a := archiveFor(t, "juliet", "romeo")
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var byDay [][]int64 // juliet's ids stamped on each day
	for day := range 10 {
		var entries []mam.Entry
		for i := range 20 {
			entries = append(entries, archiveEntry("juliet", "romeo", fmt.Sprint(day, i), i%2 == 0),
				archiveEntry("romeo", "juliet", fmt.Sprint(day, i), i%2 == 1))
		}
		ids, err := a.NextIDs(ctx, len(entries))
		if err != nil {
			t.Fatal(err)
		}
		ids, tx, err := a.Insert(ctx, entries, ids, day0.AddDate(0, 0, day))
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		var mine []int64
		for i := 0; i < len(ids); i += 2 {
			mine = append(mine, ids[i])
		}
		byDay = append(byDay, mine)
	}
	for _, tc := range []struct {
		name       string
		start, end time.Time
		days       []int
	}{
		{"start and end", day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 6), []int{3, 4, 5, 6}},
		{"start", day0.AddDate(0, 0, 8).Add(-time.Second), time.Time{}, []int{8, 9}},
		{"end", time.Time{}, day0.AddDate(0, 0, 1).Add(time.Second), []int{0, 1}},
		{"between days", day0.Add(time.Hour), day0.Add(2 * time.Hour), nil},
		{"before everything", time.Time{}, day0.Add(-time.Hour), nil},
		{"after everything", day0.AddDate(0, 0, 10), time.Time{}, nil},
	} {
		var want []int64
		for _, d := range tc.days {
			want = append(want, byDay[d]...)
		}
		for _, last := range []bool{false, true} {
			got := pageAll(t, a, mam.Query{Start: tc.start, End: tc.end, Max: 7, Last: last})
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s (last %v): got %v, want %v", tc.name, last, got, want)
			}
		}
	}
}

// TestArchiveStampsOfNodes writes as two nodes of a cluster whose clocks
// disagree, each reserving its ids in the insert (nil ids): the node
// behind must not stamp its later ids earlier, or a query from a date
// before both would pass over the first node's message: its date bound
// becomes an id bound (the id of the earliest stamp).
func TestArchiveStampsOfNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, ahead := archiveFor(t, "juliet", "romeo")
	behind := postgres.NewArchive(pool)
	now := time.Now().Truncate(time.Millisecond)
	var ids []int64
	for _, w := range []struct {
		a     *postgres.Archive
		stamp time.Time
	}{{ahead, now}, {behind, now.Add(-time.Minute)}} {
		stored, tx, err := w.a.Insert(ctx, []mam.Entry{archiveEntry("juliet", "romeo", "hi", false)}, nil, w.stamp)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, stored...)
	}
	if ids[0] == 0 || ids[1] <= ids[0] {
		t.Fatalf("ids %v: not stored, or not increasing", ids)
	}
	got := pageAll(t, ahead, mam.Query{Start: now.Add(-time.Hour), Max: 10})
	if !slices.Equal(got, ids) {
		t.Errorf("messages from an hour before: %v, want %v", got, ids)
	}
}

// TestArchiveStalledNode: a node that took the id order lock and then
// stopped talking (frozen, or cut off without its connection closing)
// must not stop every other node's archive writes; its own batch fails.
func TestArchiveStalledNode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, stalled := archiveFor(t, "juliet", "romeo")
	other := postgres.NewArchive(pool)
	entries := []mam.Entry{archiveEntry("juliet", "romeo", "hi", false)}
	_, held, err := stalled.Insert(ctx, entries, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Before the pool closes, which waits for the held connection.
	t.Cleanup(func() { held.Rollback(ctx) })
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ids, tx, err := other.Insert(wctx, entries, nil, time.Now())
	if err != nil {
		t.Fatalf("the other node waited for the stalled one: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := held.Commit(ctx); err == nil {
		t.Error("the stalled node's batch committed after the others went on")
	}
	if got := pageAll(t, other, mam.Query{Max: 10}); !slices.Equal(got, ids) {
		t.Errorf("archive holds %v, want %v", got, ids)
	}
}

func TestArchiveFulltext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a := archiveFor(t, "juliet", "romeo")
	bodies := []string{
		"Wherefore art thou Romeo?",
		"Deny thy father and refuse thy name",
		"Romeo, doff thy name",
		"Привет, как дела?",
		"今日はいい天気ですね",
		"天気予報を見た",
		"romeoish is not romeo-like", // tokenises to romeoish, is, not, romeo, like
		"Thou art a villain",
	}
	var entries []mam.Entry
	for _, b := range bodies {
		entries = append(entries, archiveEntry("juliet", "romeo", b, false))
	}
	// Another account's words are not found in juliet's archive.
	entries = append(entries, archiveEntry("romeo", "juliet", "a villain in romeo's archive", true))
	ids, err := a.Append(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want []int
	}{
		{"romeo", []int{0, 2, 6}},
		{"ROMEO", []int{0, 2, 6}},
		{"thy name", []int{1, 2}},
		{`"refuse thy name"`, []int{1}},
		{`"thy refuse"`, nil},
		{"art", []int{0, 7}},
		{"ar", nil},
		{"дела", []int{3}},
		{"Привет", []int{3}},
		{"天気", []int{4, 5}},
		{"いい天気", []int{4}},
		{"雨", nil},
		{"天", []int{4, 5}},
		{"気予", []int{5}},
		{"天気 art", nil},
		{"romeo -art", []int{2, 6}},
		{`romeo -"doff thy"`, []int{0, 6}},
		{"Romeo, doff", []int{2}},
		{`"romeo doff"`, []int{2}},
		{"100%", nil},
		{"villain", []int{7}},
	} {
		var want []int64
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		for _, max := range []int{1, 10} {
			got := pageAll(t, a, mam.Query{Text: tc.text, Max: max})
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("search %q (max %d): got %v, want %v", tc.text, max, got, want)
			}
		}
	}
}

func TestArchiveRetractPrefsExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, a := archiveFor(t, "juliet", "romeo")
	sent := archiveEntry("romeo", "juliet", "o1", true)
	got := archiveEntry("juliet", "romeo", "o1", false)
	forged := archiveEntry("juliet", "romeo", "o2", true) // juliet's own o2
	if _, err := a.Append(ctx, []mam.Entry{sent, got, forged}); err != nil {
		t.Fatal(err)
	}
	tomb := func([]byte) []byte { return []byte("<message xmlns='jabber:client'/>") }
	if n, err := a.Retract(ctx, "romeo@example.org", "juliet@example.org", "o1", tomb); err != nil || n != 2 {
		t.Fatalf("Retract = %d, %v; want 2", n, err)
	}
	if n, err := a.Retract(ctx, "romeo@example.org", "juliet@example.org", "o2", tomb); err != nil || n != 0 {
		t.Fatalf("Retract of a message romeo did not send = %d, %v; want 0", n, err)
	}
	p, _ := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10, Text: "o1"})
	if len(p.Messages) != 0 {
		t.Errorf("a tombstone is still found by its old text")
	}

	// Preferences.
	if p, err := a.Prefs(ctx, "example.org", "juliet"); err != nil || p.Default != "always" {
		t.Fatalf("default prefs %v, %v", p, err)
	}
	want := mam.Prefs{Default: "roster", Always: []string{"nurse@example.org"}, Never: []string{"tybalt@example.org"}}
	if err := a.SetPrefs(ctx, "example.org", "juliet", want); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Prefs(ctx, "example.org", "juliet"); err != nil || fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("prefs %v, %v; want %v", p, err, want)
	}
	ids, err := a.Append(ctx, []mam.Entry{
		archiveEntry("juliet", "romeo", "not on the roster", false),
		archiveEntry("juliet", "nurse", "always", false),
		archiveEntry("juliet", "tybalt", "never", false),
		archiveEntry("romeo", "tybalt", "romeo keeps all", false),
	})
	if err != nil || ids[0] != 0 || ids[1] == 0 || ids[2] != 0 || ids[3] == 0 {
		t.Fatalf("ids under preferences %v, %v", ids, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO roster_items (domain, username, contact) VALUES ('example.org', 'juliet', 'romeo@example.org')`); err != nil {
		t.Fatal(err)
	}
	if ids, err := a.Append(ctx, []mam.Entry{archiveEntry("juliet", "romeo", "on the roster", false)}); err != nil || ids[0] == 0 {
		t.Fatalf("a contact on the roster: %v, %v", ids, err)
	}

	// Retention: everything is older than a minute from now.
	always := ids[1]
	if _, err := pool.Exec(ctx, `UPDATE archive_messages SET stamp = now() - interval '10 days' WHERE id <> $1`, always); err != nil {
		t.Fatal(err)
	}
	total := 0
	for {
		n, err := a.Expire(ctx, time.Now().Add(-24*time.Hour), 2)
		if err != nil {
			t.Fatal(err)
		}
		if n > 2 {
			t.Fatalf("Expire deleted %d > limit 2", n)
		}
		total += n
		if n < 2 {
			break
		}
	}
	var left []int64
	rows, _ := pool.Query(ctx, `SELECT id FROM archive_messages`)
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		left = append(left, id)
	}
	if len(left) != 1 || left[0] != always || total != 5 {
		t.Errorf("after expiry %d deleted, left %v, want only %d", total, left, always)
	}
}

// TestArchiveTextPendingList checks the limit at which an archive
// insert merges the text index's pending list, making the messages
// behind it wait: above what the server's own merges leave in it
// (migration 0024, TestArchiveMergesTextAside).
func TestArchiveTextPendingList(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	var opts []string
	err := pool.QueryRow(context.Background(), `SELECT reloptions FROM pg_class WHERE oid = 'archive_messages_text'::regclass`).Scan(&opts)
	if err != nil || !slices.Contains(opts, "gin_pending_list_limit=1024") {
		t.Fatalf("options of archive_messages_text: %q, %v; want gin_pending_list_limit=1024", opts, err)
	}
}

// TestArchiveMergesTextAside: told to, the archive merges its text
// index's pending list on a connection of its own once enough rows with
// words were written, so that no INSERT, which later messages wait for,
// has to.
func TestArchiveMergesTextAside(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, a := archiveFor(t, "juliet", "romeo")
	a.MergeTextEvery(10, slog.New(slog.NewTextHandler(t.Output(), nil)))
	// pendingPages merges what is left in the pending list and says how
	// many pages it held.
	pendingPages := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, `SELECT gin_clean_pending_list('archive_messages_text'::regclass)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	batch := func(n int) {
		t.Helper()
		var entries []mam.Entry
		for i := range n {
			entries = append(entries, archiveEntry("juliet", "romeo", fmt.Sprintf("word%d", i), true))
		}
		if _, err := a.Append(ctx, entries); err != nil {
			t.Fatal(err)
		}
	}

	batch(9)
	if a.MergingText() {
		t.Fatal("a merge began after 9 rows of 10")
	}
	if n := pendingPages(); n == 0 {
		t.Fatal("9 rows left no pending page to merge")
	}
	batch(10)
	deadline := time.Now().Add(10 * time.Second)
	for a.MergingText() {
		if time.Now().After(deadline) {
			t.Fatal("the merge did not end within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	if n := pendingPages(); n != 0 {
		t.Fatalf("after 10 rows, %d pending pages were left to merge", n)
	}
}

// TestArchiveWithdraw: Withdraw replaces one message of one archive, by
// its id, by the placeholder, which text search no longer finds; the
// id stays (XEP-0313 §3.2), and the same id of another archive and
// every other message are left alone.
func TestArchiveWithdraw(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a := archiveFor(t, "juliet", "romeo")
	ids, err := a.Append(ctx, []mam.Entry{
		archiveEntry("juliet", "romeo", "kept", false),
		archiveEntry("juliet", "romeo", "bounced", false),
	})
	if err != nil {
		t.Fatal(err)
	}
	placeholder := []byte("<message xmlns='jabber:client' id='m2'></message>")
	for _, owner := range []string{"romeo", "juliet", "juliet"} {
		if err := a.Withdraw(ctx, "example.org", owner, ids[1], placeholder); err != nil {
			t.Fatalf("withdrawing from %s: %v", owner, err)
		}
	}
	p, err := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10})
	if err != nil || len(p.Messages) != 2 || p.Messages[1].ID != ids[1] {
		t.Fatalf("juliet's archive: %+v, %v; want both ids", p, err)
	}
	if string(p.Messages[0].Stanza) == string(placeholder) || string(p.Messages[1].Stanza) != string(placeholder) {
		t.Errorf("stanzas %q, %q; want the second withdrawn", p.Messages[0].Stanza, p.Messages[1].Stanza)
	}
	if p, err := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10, Text: "bounced"}); err != nil || len(p.Messages) != 0 {
		t.Errorf("text search finds %d withdrawn messages, %v", len(p.Messages), err)
	}
}
