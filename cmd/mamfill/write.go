package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/mam"
	"xmppd/router"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

type writeReport struct {
	Writers   int     `json:"writers"`
	Seconds   float64 `json:"seconds"`
	Messages  int64   `json:"messages"`
	Failed    int64   `json:"failed"`
	MsgsPerS  float64 `json:"messages_per_s"`
	RowsPerS  float64 `json:"rows_per_s"` // two rows per message
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	TargetPS  float64 `json:"target_messages_per_s"`
	Met       bool    `json:"met"`
	FirstErr  string  `json:"first_error,omitempty"`
	TableRows int64   `json:"table_rows_before"`
}

// measureWrites archives messages between the other accounts through
// mam.Module.Archive — the group commit the server uses — from o.writers
// goroutines for o.write, and counts those committed.
func measureWrites(ctx context.Context, pool *pgxpool.Pool, o options, log io.Writer) (*writeReport, error) {
	rep := &writeReport{Writers: o.writers, TargetPS: 10_000}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM archive_messages").Scan(&rep.TableRows); err != nil {
		return nil, err
	}
	r := router.New(router.Config{Hosts: []string{o.domain}})
	m, err := mam.New(r, mam.Config{Store: postgres.NewArchive(pool)})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	wctx, cancel := context.WithTimeout(ctx, o.write)
	defer cancel()
	var next, failed atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, o.writers)
	began := time.Now()
	var wg sync.WaitGroup
	for w := range o.writers {
		wg.Go(func() {
			for wctx.Err() == nil {
				n := next.Add(1)
				a, b := int(n%int64(o.accounts)), int((n*7+1)%int64(o.accounts))
				if a == b {
					b = (b + 1) % o.accounts
				}
				from := jid.MustParse("u" + strconv.Itoa(a) + "@" + o.domain + "/phone")
				to := jid.MustParse("u" + strconv.Itoa(b) + "@" + o.domain)
				st := xmlstream.NewElement("jabber:client", "message", "type", "chat", "from", from.String(), "to", to.String(), "id", "w"+strconv.FormatInt(n, 10)).
					AddChild(xmlstream.NewElement("jabber:client", "body").AddText(fmt.Sprintf("message number %d about nothing in particular", n)))
				t := time.Now()
				_, err := m.Archive(ctx, from, to, st)
				if err != nil {
					if errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil {
						return
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	rep.Seconds = time.Since(began).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	rep.Messages, rep.Failed = int64(len(all)), failed.Load()
	if e, ok := firstErr.Load().(string); ok {
		rep.FirstErr = e
	}
	rep.MsgsPerS = float64(rep.Messages) / rep.Seconds
	rep.RowsPerS = 2 * rep.MsgsPerS
	if len(all) > 0 {
		k := summarize("write", all, 0, 0)
		rep.P50, rep.P99 = k.P50, k.P99
	}
	rep.Met = rep.MsgsPerS >= rep.TargetPS && rep.Failed == 0
	fmt.Fprintf(log, "writes: %d writers, %d messages in %.1f s: %.0f messages/s (%.0f rows/s), %d failed, latency p50 %.1f ms p99 %.1f ms\n",
		rep.Writers, rep.Messages, rep.Seconds, rep.MsgsPerS, rep.RowsPerS, rep.Failed, rep.P50, rep.P99)
	return rep, nil
}
