package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"xmppd/mam"
	"xmppd/storage/pgtest"
)

// TestCorrectionLookupUsesOriginIndex: archiving a correction (XEP-0308)
// looks up the message it replaces. That must be a probe of the origin
// index, not a read of the owner's whole archive: the lookup runs inside
// the writer's batch insert, which every archived message of the server
// waits for, and a correction naming an id that is not in the archive
// (or the first one after a long conversation) read every row.
func TestCorrectionLookupUsesOriginIndex(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	a := NewArchive(pool)
	for _, u := range []string{"juliet", "other"} {
		if err := NewAccounts(pool).Create(ctx, "example.org", u, nil); err != nil {
			t.Fatal(err)
		}
	}
	const n = 5000
	if _, err := pool.Exec(ctx, `INSERT INTO archive_messages (domain, username, with_jid, outgoing, origin_id, stanza)
		SELECT 'example.org', CASE WHEN g % 4 = 0 THEN 'juliet' ELSE 'other' END, 'romeo@example.org', g % 2 = 0, 'o' || g, '\x00'
		FROM generate_series(1, $1::int * 4) g`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE archive_messages`); err != nil {
		t.Fatal(err)
	}
	e := mam.Entry{Domain: "example.org", Username: "juliet", With: "romeo@example.org", Replaces: "not-in-the-archive",
		OriginID: "fix", Body: "fix", Stanza: []byte("<message xmlns='jabber:client'><body>fix</body></message>")}
	ids, err := a.NextIDs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := columnsOf([]mam.Entry{e})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var out []byte
	if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+insertSQL, ids, c.domains, c.users, c.withs, c.resources, c.outgoing,
		c.origins, c.replaces, c.stanzas, c.terms, time.Now()).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plan []struct{ Plan planNode }
	if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
		t.Fatalf("plan %s: %v", out, err)
	}
	if read := plan[0].Plan.archiveRowsRead(); read > 100 {
		t.Errorf("archiving one correction read %.0f archived rows (the owner has %d); want an index probe", read, n)
	}
}

// TestLatestStampUsesStampIndex: a node of a cluster reads the archive's
// latest stamp in every batch it writes (reserveInOrder).
func TestLatestStampUsesStampIndex(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	if err := NewAccounts(pool).Create(ctx, "example.org", "juliet", nil); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	if _, err := pool.Exec(ctx, `INSERT INTO archive_messages (domain, username, with_jid, outgoing, stamp, stanza)
		SELECT 'example.org', 'juliet', 'romeo@example.org', true, now() - g * interval '1 second', '\x00'
		FROM generate_series(1, $1::int) g`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE archive_messages`); err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+latestStampSQL).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plan []struct{ Plan planNode }
	if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
		t.Fatalf("plan %s: %v", out, err)
	}
	if read := plan[0].Plan.archiveRowsRead(); read > 10 {
		t.Errorf("reading the latest stamp read %.0f of %d archived rows; want an index probe", read, n)
	}
}

type planNode struct {
	Type     string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Rows     float64    `json:"Actual Rows"`
	Loops    float64    `json:"Actual Loops"`
	Removed  float64    `json:"Rows Removed by Filter"`
	Recheck  float64    `json:"Rows Removed by Index Recheck"`
	Plans    []planNode `json:"Plans"`
}

// archiveRowsRead sums the rows that scans of archive_messages under p
// returned or filtered out.
func (p planNode) archiveRowsRead() float64 {
	var n float64
	if p.Relation == "archive_messages" && p.Type != "ModifyTable" {
		n += (p.Rows + p.Removed + p.Recheck) * max(p.Loops, 1)
	}
	for _, c := range p.Plans {
		n += c.archiveRowsRead()
	}
	return n
}
