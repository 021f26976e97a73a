// Command mamfill measures the message archive (XEP-0313) at scale: it
// fills archive_messages with COPY, then times pages and full-text
// searches through the store methods the server uses
// (storage/postgres.Archive.Query), and the write throughput of the
// module's group commit (mam.Module.Archive).
//
// Usage:
//
//	mamfill [-db URL] [-target 1000000] [-total 10000000] [flags]
//
// With -db, it uses that database (storage.Open migrates it); use a
// dedicated one: the fill drops and recreates the archive's indexes. With
// no -db it starts a private PostgreSQL with fsync on (storage/localpg)
// in -datadir, a temporary directory by default, and stops it at the end.
// A database whose archive already holds rows is measured as it is,
// without filling, so a change of an index or a query can be measured
// again without refilling.
//
// Every run is bounded by -timeout. It writes one JSON object to stdout
// and a table to stderr, and exits 1 if anything failed, 2 on bad usage.
// docs/archive.md ("Measured at scale") has the figures and the make
// target.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/storage"
	"xmppd/storage/localpg"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	db       string
	dataDir  string
	domain   string
	target   int // rows of the one big account
	total    int // rows in the table
	accounts int // other accounts
	chunk    int // rows per COPY
	copiers  int // concurrent COPY streams
	rebuild  bool
	seed     uint64
	pages    int // queries per page kind
	searches int // queries per full-text kind
	budget   time.Duration
	kinds    *regexp.Regexp
	write    time.Duration
	writers  int
	timeout  time.Duration
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mamfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.db, "db", "", "PostgreSQL URL of a dedicated database; empty: a private server with fsync on in -datadir")
	fs.StringVar(&o.dataDir, "datadir", "", "directory of the private server; empty: a temporary one, removed at the end")
	fs.StringVar(&o.domain, "domain", "example.org", "domain of the accounts")
	fs.IntVar(&o.target, "target", 1_000_000, "messages in the archive of the measured account")
	fs.IntVar(&o.total, "total", 10_000_000, "rows in the table, the measured account's included")
	fs.IntVar(&o.accounts, "accounts", 1000, "other accounts sharing the rest of the rows")
	fs.IntVar(&o.chunk, "chunk", 50_000, "rows per COPY")
	fs.IntVar(&o.copiers, "copiers", 2, "concurrent COPY streams")
	fs.BoolVar(&o.rebuild, "rebuild-indexes", true, "drop the archive's indexes before the fill and recreate them (same definitions) after it")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated data and of the query positions")
	fs.IntVar(&o.pages, "pages", 1000, "queries per kind of page")
	fs.IntVar(&o.searches, "searches", 200, "queries per kind of full-text search")
	fs.DurationVar(&o.budget, "budget", time.Minute, "time after which a kind of query that is that slow stops early (fewer than -pages or -searches)")
	fs.DurationVar(&o.write, "write", 10*time.Second, "how long to measure archive writes through mam.Module.Archive; 0 skips it")
	fs.IntVar(&o.writers, "writers", 512, "concurrent senders of the write measurement")
	fs.DurationVar(&o.timeout, "timeout", 45*time.Minute, "bound of the whole run")
	kinds := fs.String("kinds", "", "regular expression: measure only the kinds of query it matches")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.kinds, err = regexp.Compile(*kinds); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.target < 1 || o.total < o.target:
		return o, errors.New("need 1 <= -target <= -total")
	case o.accounts < 21:
		return o, errors.New("-accounts must be at least 21 (the measured account has 20 partners)")
	case o.chunk < 1 || o.copiers < 1 || o.pages < 1 || o.searches < 1 || o.writers < 1 || o.timeout <= 0:
		return o, errors.New("-chunk, -copiers, -pages, -searches, -writers and -timeout must be positive")
	}
	return o, nil
}

// report is the JSON object a run writes to stdout.
type report struct {
	Started   string       `json:"started"`
	Database  string       `json:"database"` // "private" or the server's version
	Settings  dbSettings   `json:"settings"`
	NumCPU    int          `json:"num_cpu"`
	Fill      *fillReport  `json:"fill,omitempty"`
	Rows      int64        `json:"rows"`
	Target    int64        `json:"target_rows"`
	Queries   []kindReport `json:"queries,omitempty"`
	Write     *writeReport `json:"write,omitempty"`
	DurationS float64      `json:"duration_s"`
	OK        bool         `json:"ok"`
	Error     string       `json:"error,omitempty"`
}

type dbSettings struct {
	Version           string `json:"version"`
	Fsync             string `json:"fsync"`
	SynchronousCommit string `json:"synchronous_commit"`
	SharedBuffers     string `json:"shared_buffers"`
	// ShmemHugePages is the kernel's transparent huge page setting for
	// shared memory: on a virtual machine where page faults are dear,
	// "never" makes every backend's first touch of each 4 KiB page of
	// shared buffers cost as much as the query (docs/archive.md).
	ShmemHugePages string `json:"shmem_huge_pages"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mamfill:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	began := time.Now()
	rep := &report{Started: began.UTC().Format(time.RFC3339), NumCPU: runtime.NumCPU()}
	err = measure(ctx, o, rep, stderr)
	rep.DurationS = time.Since(began).Seconds()
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
		fmt.Fprintln(stderr, "mamfill:", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		fmt.Fprintln(stderr, "mamfill:", err)
		return 1
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// measure does the whole run, filling rep as it goes.
func measure(ctx context.Context, o options, rep *report, log io.Writer) (err error) {
	url := o.db
	rep.Database = "given"
	if url == "" {
		dir := o.dataDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "mamfill-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		}
		fmt.Fprintln(log, "starting a private PostgreSQL (fsync on) in", dir)
		srv, err := localpg.Start(ctx, dir, localpg.Options{})
		if err != nil {
			return err
		}
		defer srv.Stop()
		url = srv.URL()
		rep.Database = "private"
	}
	pool, err := storage.Open(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := settings(ctx, pool, &rep.Settings); err != nil {
		return err
	}
	fmt.Fprintf(log, "PostgreSQL %s, fsync=%s, synchronous_commit=%s, shared_buffers=%s, shared memory huge pages: %s\n",
		rep.Settings.Version, rep.Settings.Fsync, rep.Settings.SynchronousCommit, rep.Settings.SharedBuffers, rep.Settings.ShmemHugePages)

	f := newFiller(pool, o)
	var rows int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM archive_messages LIMIT 1) x").Scan(&rows); err != nil {
		return err
	}
	if rows == 0 {
		if rep.Fill, err = f.fill(ctx, log); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
	} else {
		fmt.Fprintln(log, "the archive holds rows already: measuring without filling")
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM archive_messages").Scan(&rep.Rows); err != nil {
		return err
	}
	q, err := newQuerier(ctx, pool, o)
	if err != nil {
		return err
	}
	rep.Target = int64(len(q.ids))
	fmt.Fprintf(log, "%d rows, %d in the measured account's archive\n", rep.Rows, rep.Target)
	if rep.Queries, err = q.run(ctx, log); err != nil {
		return fmt.Errorf("queries: %w", err)
	}
	printKinds(log, rep.Queries)
	if o.write > 0 {
		if rep.Write, err = measureWrites(ctx, pool, o, log); err != nil {
			return fmt.Errorf("writes: %w", err)
		}
	}
	return nil
}

func settings(ctx context.Context, pool *pgxpool.Pool, s *dbSettings) error {
	s.ShmemHugePages = shmemHugePages()
	return pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('shared_buffers')`).
		Scan(&s.Version, &s.Fsync, &s.SynchronousCommit, &s.SharedBuffers)
}

// shmemHugePages returns the selected value of this machine's
// transparent huge page setting for shared memory ("always", "never" …),
// or "unknown". It describes the database server only when it runs here.
func shmemHugePages() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/shmem_enabled")
	if err != nil {
		return "unknown"
	}
	for f := range strings.FieldsSeq(string(b)) {
		if strings.HasPrefix(f, "[") {
			return strings.Trim(f, "[]")
		}
	}
	return "unknown"
}
