package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/mam"
	"xmppd/storage/postgres"
)

// pageSize is the page every query asks for.
const pageSize = 50

// querier times queries on the measured account's archive through
// postgres.Archive.Query, the store method behind every MAM query.
type querier struct {
	store  *postgres.Archive
	o      options
	r      *rand.Rand
	ids    []int64 // the account's archive ids, ascending
	stamps [2]time.Time
}

func newQuerier(ctx context.Context, pool *pgxpool.Pool, o options) (*querier, error) {
	q := &querier{store: postgres.NewArchive(pool), o: o, r: rand.New(rand.NewPCG(o.seed, 99))}
	// Setup, not measured: the ids to start pages from.
	rows, err := pool.Query(ctx, "SELECT id FROM archive_messages WHERE domain = $1 AND username = $2 ORDER BY id", o.domain, bigUser)
	if err != nil {
		return nil, err
	}
	if q.ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return nil, err
	}
	if len(q.ids) < 2*pageSize {
		return nil, fmt.Errorf("the measured account has %d messages, too few to measure", len(q.ids))
	}
	err = pool.QueryRow(ctx, "SELECT min(stamp), max(stamp) FROM archive_messages WHERE domain = $1 AND username = $2",
		o.domain, bigUser).Scan(&q.stamps[0], &q.stamps[1])
	return q, err
}

// kindReport is the latency of one kind of query, in milliseconds.
type kindReport struct {
	Kind    string  `json:"kind"`
	N       int     `json:"n"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	Rows    float64 `json:"mean_rows"` // messages per page
	TargetP float64 `json:"target_p99_ms"`
	Met     bool    `json:"met"`
}

// kind is one kind of query: next returns the query to time; then, when
// not nil, may return a follow-up page (paging on), timed as well.
type kind struct {
	name   string
	n      int
	target float64 // p99 ms
	next   func() mam.Query
	then   func(mam.Query, mam.Page) (mam.Query, bool)
}

// randomID returns an id of the account, not among the first or last
// page, so that a page from it in either direction is full.
func (q *querier) randomID() int64 {
	return q.ids[pageSize+q.r.IntN(len(q.ids)-2*pageSize)]
}

// partner returns a conversation partner, the busy ones more often.
func (q *querier) partner() string {
	return partnerOf(q.o, int(rand.NewZipf(q.r, 1.3, 2, partners-1).Uint64()))
}

// window returns a week at a random place of the archive's year.
func (q *querier) window() (time.Time, time.Time) {
	d := q.stamps[1].Sub(q.stamps[0]) - 7*24*time.Hour
	s := q.stamps[0].Add(time.Duration(q.r.Int64N(max(int64(d), 1))))
	return s, s.Add(7 * 24 * time.Hour)
}

func (q *querier) kinds() []kind {
	page := func(name string, next func() mam.Query) kind {
		return kind{name: "page/" + name, n: q.o.pages, target: 5, next: next}
	}
	// Full-text: the newest matches before a random message (or the
	// newest of all, one time in four), then the page before those.
	text := func(name, text string, filter func(*mam.Query)) kind {
		return kind{name: "fulltext/" + name, n: q.o.searches, target: 50,
			next: func() mam.Query {
				m := mam.Query{Text: text, Max: pageSize, Last: true}
				if q.r.IntN(4) > 0 {
					m.BeforeID = q.randomID()
				}
				if filter != nil {
					filter(&m)
				}
				return m
			},
			then: func(m mam.Query, p mam.Page) (mam.Query, bool) {
				if p.Complete || len(p.Messages) == 0 {
					return m, false
				}
				m.BeforeID = p.Messages[0].ID
				return m, true
			}}
	}
	return []kind{
		page("first", func() mam.Query { return mam.Query{Max: pageSize} }),
		page("last", func() mam.Query { return mam.Query{Max: pageSize, Last: true} }),
		page("after-id", func() mam.Query { return mam.Query{Max: pageSize, AfterID: q.randomID()} }),
		page("before-id", func() mam.Query { return mam.Query{Max: pageSize, Last: true, BeforeID: q.randomID()} }),
		page("with/first", func() mam.Query { return mam.Query{Max: pageSize, With: q.partner()} }),
		page("with/last", func() mam.Query { return mam.Query{Max: pageSize, Last: true, With: q.partner()} }),
		page("with/after-id", func() mam.Query { return mam.Query{Max: pageSize, With: q.partner(), AfterID: q.randomID()} }),
		page("with/before-id", func() mam.Query {
			return mam.Query{Max: pageSize, Last: true, With: q.partner(), BeforeID: q.randomID()}
		}),
		page("range/first", func() mam.Query { s, e := q.window(); return mam.Query{Max: pageSize, Start: s, End: e} }),
		page("range/last", func() mam.Query { s, e := q.window(); return mam.Query{Max: pageSize, Last: true, Start: s, End: e} }),
		page("range/with", func() mam.Query {
			s, e := q.window()
			return mam.Query{Max: pageSize, Start: s, End: e, With: q.partner()}
		}),
		page("start-only", func() mam.Query { s, _ := q.window(); return mam.Query{Max: pageSize, Start: s} }),
		text("common", commonWord, nil),
		text("rare", rareWord, nil),
		text("phrase", `"`+phrase+`"`, nil),
		text("russian", "привет", nil),
		text("cjk", cjkPhrase, nil),
		text("cjk-char", cjkPhrase[:3], nil),
		text("common/with", commonWord, func(m *mam.Query) { m.With = q.partner() }),
		text("phrase/range", `"`+phrase+`"`, func(m *mam.Query) { m.Start, m.End = q.window(); m.BeforeID = 0 }),
	}
}

// run times every kind, in turns of all kinds so that a disturbance of
// the machine does not hit one kind only.
func (q *querier) run(ctx context.Context, log io.Writer) ([]kindReport, error) {
	var ks []kind
	for _, k := range q.kinds() {
		if q.o.kinds.MatchString(k.name) {
			ks = append(ks, k)
		}
	}
	times := make([][]time.Duration, len(ks))
	spent := make([]time.Duration, len(ks))
	rows := make([]int, len(ks))
	for round := 0; ; round++ {
		busy := false
		for i, k := range ks {
			if round >= k.n || spent[i] > q.o.budget {
				continue
			}
			busy = true
			m := k.next()
			for pages := 1; ; pages++ {
				t := time.Now()
				p, err := q.store.Query(ctx, q.o.domain, bigUser, m)
				d := time.Since(t)
				if err != nil {
					return nil, fmt.Errorf("%s %+v: %w", k.name, m, err)
				}
				times[i] = append(times[i], d)
				spent[i] += d
				rows[i] += len(p.Messages)
				more := false
				if k.then != nil && pages < 2 {
					m, more = k.then(m, p)
				}
				if !more {
					break
				}
			}
		}
		if !busy {
			break
		}
	}
	var out []kindReport
	for i, k := range ks {
		out = append(out, summarize(k.name, times[i], rows[i], k.target))
	}
	return out, nil
}

func summarize(name string, ds []time.Duration, rows int, target float64) kindReport {
	slices.Sort(ds)
	ms := func(p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1)+0.5)]) / float64(time.Millisecond)
	}
	k := kindReport{Kind: name, N: len(ds), P50: ms(0.5), P90: ms(0.9), P99: ms(0.99), Max: ms(1),
		Rows: float64(rows) / float64(len(ds)), TargetP: target}
	k.Met = k.P99 <= target
	return k
}

func printKinds(w io.Writer, ks []kindReport) {
	fmt.Fprintf(w, "%-22s %6s %8s %8s %8s %8s %6s %s\n", "kind", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "rows", "p99 target")
	for _, k := range ks {
		met := "met"
		if !k.Met {
			met = "MISSED"
		}
		fmt.Fprintf(w, "%-22s %6d %8.2f %8.2f %8.2f %8.2f %6.1f ≤%.0f %s\n", k.Kind, k.N, k.P50, k.P90, k.P99, k.Max, k.Rows, k.TargetP, met)
	}
}
