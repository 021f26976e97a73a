package postgres

import (
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"xmppd/mam/fulltext"
)

// pageSQL builds the statement of one archive page, personal or room:
// the caller writes the SELECT and its own conditions, then the shared
// tail (id bounds, full text, order and limit) is added by finish.
type pageSQL struct {
	sql  strings.Builder
	args []any
}

// newPageSQL starts a statement with sel, whose parameters $1, $2 … are
// first.
func newPageSQL(sel string, first ...any) *pageSQL {
	p := &pageSQL{args: first}
	p.sql.WriteString(sel)
	return p
}

// arg adds v as a parameter and returns its placeholder.
func (p *pageSQL) arg(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

// and adds " AND cond".
func (p *pageSQL) and(cond string) { p.sql.WriteString(" AND " + cond) }

// finish adds the conditions every archive shares, the order and the
// limit (one row more than max, to tell whether the page is the last),
// and returns the statement and its arguments. A full-text search for
// text among the words tagged tag is sent unprepared, planned for its
// words: the best plan for a word in most messages (the owner's index)
// is the worst for a rare one (the GIN index) and the other way round,
// and every search shares one statement text (docs/archive.md).
func (p *pageSQL) finish(afterID, beforeID int64, ids []int64, tag, text string, last bool, max int) (string, []any) {
	if afterID != 0 {
		p.and("id > " + p.arg(afterID))
	}
	if beforeID != 0 {
		p.and("id < " + p.arg(beforeID))
	}
	if ids != nil {
		p.and("id = ANY(" + p.arg(ids) + ")")
	}
	search := fulltext.Parse(text)
	if !search.Empty() {
		p.and("terms @@ " + p.arg(taggedQuery(tag, search)) + "::tsquery")
	}
	if last {
		p.sql.WriteString(" ORDER BY id DESC")
	} else {
		p.sql.WriteString(" ORDER BY id")
	}
	p.sql.WriteString(" LIMIT " + p.arg(max+1))
	if !search.Empty() {
		return p.sql.String(), append([]any{pgx.QueryExecModeExec}, p.args...)
	}
	return p.sql.String(), p.args
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
