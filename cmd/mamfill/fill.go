package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/pgxpool"
	"xmppd/storage/postgres"
)

// Words planted in the generated bodies so that each full-text kind has a
// known frequency in the measured account (and in the others alike).
const (
	rareWord   = "quixotically"       // one message in 20,000
	phrase     = "see you tomorrow"   // one in 200
	cjkPhrase  = "明天见"                // one in 100
	commonWord = "the"                // the most frequent word of the vocabulary
	bigUser    = "big"                // the measured account
	partners   = 20                   // its conversation partners
	span       = 365 * 24 * time.Hour // the stamps cover a year
)

// english are frequent words, most frequent first.
var english = strings.Fields(`the to you and a i it of is that in we for on
	have be this with not are at was so but just what can do my me if all
	will about get out up there one no your like know now how when then
	time good see back think today going here well would they could been
	going make meeting later call home work need want tonight dinner
	morning thanks sure okay please right really maybe great sorry love
	new train station office coffee weekend project report friday monday
	message phone email link photo picture address ticket flight hotel
	doctor school kids birthday party music movie game book news price
	order delivery package window door kitchen garden weather rain snow
	sun cold hot early late soon again still already never always often`)

// russian and cjk are words of other scripts.
var russian = strings.Fields(`привет спасибо сегодня завтра вечером работа
	встреча письмо документ поезд вокзал дом кофе погода дождь снег книга
	музыка хорошо конечно может быть позже сейчас время друзья семья`)

var cjk = strings.Fields(`你好 谢谢 今天 晚上 工作 会议 火车站 咖啡 天气 下雨
	こんにちは ありがとう 今日 明日 会社 電車 天気 안녕하세요 감사합니다 오늘`)

// vocab is english followed by a long tail of made-up words, so that a
// Zipf choice gives a few very common words and many rare ones.
var vocab = func() []string {
	syl := strings.Fields("ka lo mi ne ru ta po se vi da ko ra le mu ni sa to be fa gu ho ji")
	v := append([]string{}, english...)
	for i := 0; len(v) < 30000; i++ {
		var b strings.Builder
		for n := i; ; n /= len(syl) {
			b.WriteString(syl[n%len(syl)])
			if n < len(syl) {
				break
			}
		}
		b.WriteString("n")
		v = append(v, b.String())
	}
	return v
}()

// filler writes the generated archive.
type filler struct {
	pool   *pgxpool.Pool
	o      options
	others []string // usernames of the other accounts
	t0     time.Time
}

func newFiller(pool *pgxpool.Pool, o options) *filler {
	f := &filler{pool: pool, o: o, t0: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := range o.accounts {
		f.others = append(f.others, "u"+strconv.Itoa(i))
	}
	return f
}

// partnerOf returns the n-th partner of the measured account.
func partnerOf(o options, n int) string { return "u" + strconv.Itoa(n) + "@" + o.domain }

type fillReport struct {
	Rows         int64   `json:"rows"`
	CopySeconds  float64 `json:"copy_s"`
	CopyRowsPerS float64 `json:"copy_rows_per_s"`
	// IndexSeconds is the time to recreate the indexes and the foreign
	// key (0 without -rebuild-indexes); RowsPerS counts it in.
	IndexSeconds   float64 `json:"index_s"`
	AnalyzeSeconds float64 `json:"analyze_s"`
	RowsPerS       float64 `json:"rows_per_s"`
	TableBytes     int64   `json:"table_bytes"`
	IndexBytes     int64   `json:"index_bytes"`
	Rebuilt        bool    `json:"indexes_rebuilt"`
}

// fill creates the accounts and COPYs o.total rows, o.target of them in
// the archive of the measured account, interleaved with the others as a
// server writing all of them would, with ids and stamps growing together.
func (f *filler) fill(ctx context.Context, log io.Writer) (*fillReport, error) {
	rep := &fillReport{Rebuilt: f.o.rebuild}
	users := append([]string{bigUser}, f.others...)
	rows := make([][]any, len(users))
	for i, u := range users {
		rows[i] = []any{f.o.domain, u}
	}
	if _, err := f.pool.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"domain", "username"}, pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	var defs, fks []string
	if f.o.rebuild {
		var err error
		if defs, err = f.dropIndexes(ctx); err != nil {
			return nil, err
		}
		if fks, err = f.dropForeignKeys(ctx); err != nil {
			return nil, err
		}
	}
	began := time.Now()
	var done atomic.Int64
	chunks := make(chan int64)
	errs := make(chan error, f.o.copiers)
	var wg sync.WaitGroup
	for range f.o.copiers {
		wg.Go(func() {
			for start := range chunks {
				n, err := f.copyChunk(ctx, start)
				if err != nil {
					errs <- err
					return
				}
				if d := done.Add(n); d/1_000_000 != (d-n)/1_000_000 {
					el := time.Since(began).Seconds()
					fmt.Fprintf(log, "  %d rows in %.0f s (%.0f rows/s)\n", d, el, float64(d)/el)
				}
			}
		})
	}
	var err error
feed:
	for start := int64(1); start <= int64(f.o.total); start += int64(f.o.chunk) {
		select {
		case chunks <- start:
		case err = <-errs:
			break feed
		}
	}
	close(chunks)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		return nil, err
	}
	rep.Rows = done.Load()
	rep.CopySeconds = time.Since(began).Seconds()
	rep.CopyRowsPerS = float64(rep.Rows) / rep.CopySeconds
	fmt.Fprintf(log, "COPY: %d rows in %.1f s, %.0f rows/s\n", rep.Rows, rep.CopySeconds, rep.CopyRowsPerS)
	if _, err := f.pool.Exec(ctx, "SELECT setval(pg_get_serial_sequence('archive_messages', 'id'), (SELECT max(id) FROM archive_messages))"); err != nil {
		return nil, err
	}
	if f.o.rebuild {
		t := time.Now()
		if err := f.createIndexes(ctx, defs, log); err != nil {
			return nil, err
		}
		for _, fk := range fks {
			if _, err := f.pool.Exec(ctx, "ALTER TABLE archive_messages ADD "+fk); err != nil {
				return nil, err
			}
		}
		rep.IndexSeconds = time.Since(t).Seconds()
	}
	t := time.Now()
	if _, err := f.pool.Exec(ctx, "VACUUM (ANALYZE) archive_messages"); err != nil {
		return nil, err
	}
	rep.AnalyzeSeconds = time.Since(t).Seconds()
	rep.RowsPerS = float64(rep.Rows) / time.Since(began).Seconds()
	if err := f.pool.QueryRow(ctx, `SELECT pg_table_size('archive_messages'), pg_indexes_size('archive_messages')`).
		Scan(&rep.TableBytes, &rep.IndexBytes); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "indexes %.1f s, vacuum analyze %.1f s; overall %.0f rows/s; table %d MB, indexes %d MB\n",
		rep.IndexSeconds, rep.AnalyzeSeconds, rep.RowsPerS, rep.TableBytes>>20, rep.IndexBytes>>20)
	return rep, nil
}

// dropIndexes drops the archive's indexes but the primary key and
// returns their definitions.
func (f *filler) dropIndexes(ctx context.Context) ([]string, error) {
	rows, err := f.pool.Query(ctx, `SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		WHERE x.indrelid = 'archive_messages'::regclass AND NOT x.indisprimary ORDER BY i.relname`)
	if err != nil {
		return nil, err
	}
	type index struct{ name, def string }
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var x index
		err := r.Scan(&x.name, &x.def)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	var defs []string
	for _, x := range idx {
		if _, err := f.pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{x.name}.Sanitize()); err != nil {
			return nil, err
		}
		defs = append(defs, x.def)
	}
	return defs, nil
}

// dropForeignKeys drops the archive's foreign keys, whose per-row check
// would dominate the COPY, and returns their definitions; adding them
// back validates every row with one join.
func (f *filler) dropForeignKeys(ctx context.Context) ([]string, error) {
	rows, err := f.pool.Query(ctx, `SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = 'archive_messages'::regclass AND contype = 'f' ORDER BY conname`)
	if err != nil {
		return nil, err
	}
	type fk struct{ name, def string }
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fk, error) {
		var x fk
		err := r.Scan(&x.name, &x.def)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	var defs []string
	for _, x := range all {
		name := pgx.Identifier{x.name}.Sanitize()
		if _, err := f.pool.Exec(ctx, "ALTER TABLE archive_messages DROP CONSTRAINT "+name); err != nil {
			return nil, err
		}
		defs = append(defs, "CONSTRAINT "+name+" "+x.def)
	}
	return defs, nil
}

// createIndexes runs defs two at a time, each with a generous
// maintenance_work_mem.
func (f *filler) createIndexes(ctx context.Context, defs []string, log io.Writer) error {
	work := make(chan string, len(defs))
	for _, d := range defs {
		work <- d
	}
	close(work)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			err := f.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
				if _, err := c.Exec(ctx, "SET maintenance_work_mem = '1GB'"); err != nil {
					return err
				}
				defer c.Exec(context.Background(), "RESET maintenance_work_mem")
				for d := range work {
					t := time.Now()
					if _, err := c.Exec(ctx, d); err != nil {
						return fmt.Errorf("%s: %w", d, err)
					}
					fmt.Fprintf(log, "  %.1f s: %s\n", time.Since(t).Seconds(), d)
				}
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var copyColumns = []string{"id", "domain", "username", "with_jid", "with_resource", "outgoing", "stamp", "origin_id", "terms", "stanza"}

// copyChunk COPYs the rows with ids start … start+chunk-1 (up to total).
func (f *filler) copyChunk(ctx context.Context, start int64) (int64, error) {
	end := min(start+int64(f.o.chunk), int64(f.o.total)+1)
	r := rand.New(rand.NewPCG(f.o.seed, uint64(start)))
	g := newGen(r)
	rows := make([][]any, 0, end-start)
	total, target := int64(f.o.total), int64(f.o.target)
	step := float64(span) / float64(total)
	for id := start; id < end; id++ {
		var user, with string
		// Exactly target rows are the measured account's, evenly spread.
		if id*target/total != (id-1)*target/total {
			user, with = bigUser, partnerOf(f.o, g.partner())
		} else {
			a, b := r.IntN(len(f.others)), r.IntN(len(f.others)-1)
			if b >= a {
				b++
			}
			user, with = f.others[a], f.others[b]+"@"+f.o.domain
		}
		res := resources[r.IntN(len(resources))]
		out := r.IntN(2) == 0
		stamp := f.t0.Add(time.Duration(float64(id) * step))
		origin := strconv.FormatUint(r.Uint64(), 36)
		body := g.body()
		own := user + "@" + f.o.domain
		from, to := with+"/"+res, own
		if out {
			from, to = own+"/"+resources[0], with
		}
		st := "<message xmlns='jabber:client' type='chat' from='" + from + "' to='" + to + "' id='" + origin + "'><body>" +
			body + "</body><origin-id xmlns='urn:xmpp:sid:0' id='" + origin + "'/></message>"
		rows = append(rows, []any{id, f.o.domain, user, with, res, out, stamp, origin,
			postgres.ArchiveTerms(f.o.domain, user, body), []byte(st)})
	}
	n, err := f.pool.CopyFrom(ctx, pgx.Identifier{"archive_messages"}, copyColumns, pgx.CopyFromRows(rows))
	if err != nil {
		return n, fmt.Errorf("COPY rows %d…%d: %w", start, end-1, err)
	}
	return n, nil
}

var resources = []string{"phone", "laptop", "web", "tablet"}

// gen makes bodies and picks partners.
type gen struct {
	r       *rand.Rand
	words   *rand.Zipf
	partner func() int
}

func newGen(r *rand.Rand) *gen {
	pz := rand.NewZipf(r, 1.3, 2, partners-1)
	return &gen{r: r, words: rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1)), partner: func() int { return int(pz.Uint64()) }}
}

// body returns 20 to 200 characters of words, mostly Zipf-distributed
// English and made-up words, some Russian and CJK, and the planted ones.
func (g *gen) body() string {
	want := 20 + g.r.IntN(181)
	var b strings.Builder
	add := func(w string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	switch p := g.r.IntN(20000); {
	case p == 0:
		add(rareWord)
	case p < 100:
		add(phrase)
	case p < 300:
		add(cjkPhrase)
	}
	for b.Len() < want {
		switch p := g.r.IntN(100); {
		case p < 6:
			add(russian[g.r.IntN(len(russian))])
		case p < 9:
			add(cjk[g.r.IntN(len(cjk))])
		default:
			add(vocab[g.words.Uint64()])
		}
	}
	s := b.String()
	if len(s) > 200 {
		s = s[:strings.LastIndexByte(s[:200], ' ')]
	}
	return s
}
