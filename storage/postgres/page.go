package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/mam/fulltext"
)

// pageSQL builds the statement of one archive page, personal or room:
// the caller names the columns, the table and the archive's own
// conditions, then the shared tail (id bounds, full text, order and
// limit) is added by finish.
type pageSQL struct {
	cols, table string
	where       strings.Builder
	args        []any
}

// newPageSQL starts the page "SELECT cols FROM table WHERE where", whose
// parameters $1, $2 … are first.
func newPageSQL(cols, table, where string, first ...any) *pageSQL {
	p := &pageSQL{cols: cols, table: table, args: first}
	p.where.WriteString(where)
	return p
}

// arg adds v as a parameter and returns its placeholder.
func (p *pageSQL) arg(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

// and adds " AND cond".
func (p *pageSQL) and(cond string) { p.where.WriteString(" AND " + cond) }

// pageQuery is a page query as finish built it.
type pageQuery struct {
	sql  string // the page
	args []any
	// For a full-text search: walk is the page among the walkRows
	// messages nearest to where the page starts, and estimate counts
	// (by the planner's statistics) the table's rows with the words.
	walk, estimate string
	words          string // the tsquery of estimate
	limit          int    // rows asked for: max+1
}

// walkRows is how many of an archive's messages a search walks, checking
// each, before it falls back to the text index.
const walkRows = 2000

// frequentMatches is the estimated number of messages with the searched
// words from which walking is tried first (see queryPage).
const frequentMatches = 10_000

// finish adds the conditions every archive shares, the order and the
// limit (one row more than max, to tell whether the page is the last),
// and returns the query. tag is the archive's tag in the text index.
func (p *pageSQL) finish(afterID, beforeID int64, ids []int64, tag, text string, last bool, max int) pageQuery {
	if afterID != 0 {
		p.and("id > " + p.arg(afterID))
	}
	if beforeID != 0 {
		p.and("id < " + p.arg(beforeID))
	}
	if ids != nil {
		p.and("id = ANY(" + p.arg(ids) + ")")
	}
	order := " ORDER BY id"
	if last {
		order = " ORDER BY id DESC"
	}
	limit := " LIMIT " + p.arg(max+1)
	q := pageQuery{limit: max + 1}
	search := fulltext.Parse(text)
	if search.Empty() {
		q.sql = "SELECT " + p.cols + " FROM " + p.table + " WHERE " + p.where.String() + order + limit
		q.args = p.args
		return q
	}
	within := p.where.String()
	q.words = taggedQuery(tag, search)
	match := "terms @@ " + p.arg(q.words) + "::tsquery"
	q.sql = "SELECT " + p.cols + " FROM " + p.table + " WHERE " + within + " AND " + match + order + limit
	q.walk = "SELECT " + p.cols + " FROM (SELECT * FROM " + p.table + " WHERE " + within + order +
		" LIMIT " + strconv.Itoa(walkRows) + ") AS nearest WHERE " + match + order + limit
	q.estimate = "EXPLAIN (FORMAT JSON) SELECT 1 FROM " + p.table + " WHERE terms @@ $1::tsquery"
	// Searches are sent unprepared, planned for their words: the best
	// plan for a word in most messages (the owner's index) is the worst
	// for a rare one (the text index) and the other way round, and every
	// search shares one statement text (docs/archive.md).
	q.args = append([]any{pgx.QueryExecModeExec}, p.args...)
	return q
}

// queryPage runs q and returns its rows.
//
// A search for words in many of an archive's messages is fastest by
// walking the archive from where the page starts and checking each
// message; for rare words, by the text index. PostgreSQL cannot tell
// which it is: its statistics know how many rows of the table hold a
// word, but words are tagged with their archive (archive_text.go), and
// it takes the archive's share of the table as independent of them, so
// it underestimates an archive's matches by that share and reads them
// all through the text index (200 ms and more for a word in 4 % of a
// million messages). So a search whose words the statistics find in more
// than walkFrom rows (frequentMatches unless a test says otherwise)
// first walks the nearest walkRows messages; only when they hold less
// than a page does it run the planned query.
func queryPage[T any](ctx context.Context, pool *pgxpool.Pool, q pageQuery, walkFrom float64, scan pgx.RowToFunc[T]) ([]T, error) {
	if q.walk != "" {
		frequent, err := manyMatches(ctx, pool, q, walkFrom)
		if err != nil {
			return nil, err
		}
		if frequent {
			rows, err := collect(ctx, pool, q.walk, q.args, scan)
			if err != nil || len(rows) == q.limit {
				return rows, err
			}
		}
	}
	return collect(ctx, pool, q.sql, q.args, scan)
}

// manyMatches tells whether the planner expects more than walkFrom rows
// of the table to match q's words.
func manyMatches(ctx context.Context, pool *pgxpool.Pool, q pageQuery, walkFrom float64) (bool, error) {
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	var out []byte
	if err := pool.QueryRow(ctx, q.estimate, pgx.QueryExecModeExec, q.words).Scan(&out); err != nil {
		return false, fmt.Errorf("estimate matches: %w", err)
	}
	if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
		return false, fmt.Errorf("estimate matches: unexpected plan %.100q", out)
	}
	return plan[0].Plan.Rows > walkFrom, nil
}

// collect runs sql and scans every row.
func collect[T any](ctx context.Context, q querier, sql string, args []any, scan pgx.RowToFunc[T]) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

// trimPage turns the up to max+1 rows of a page query into the page,
// oldest first, and whether it is complete (nothing further in the
// query's direction).
func trimPage[T any](rows []T, max int, last bool) ([]T, bool) {
	complete := len(rows) <= max
	if !complete {
		rows = rows[:max]
	}
	if last {
		slices.Reverse(rows)
	}
	return rows, complete
}
