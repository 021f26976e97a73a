package main

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// loginReport is what one batch of logins measured.
type loginReport struct {
	OK           int                `json:"ok"`
	Failed       int                `json:"failed"`
	Errors       map[string]int     `json:"errors,omitempty"`
	ElapsedS     float64            `json:"elapsed_s"`
	SessionsPerS float64            `json:"sessions_per_s"`
	LatencyMS    latency            `json:"latency_ms"`
	PhasesMS     map[string]latency `json:"phases_ms"`
	// PBKDF2 counts client-side SCRAM key derivations (key cache misses)
	// during the batch.
	PBKDF2 int64 `json:"pbkdf2_derivations"`
}

// closeReport is what closing a batch of sessions found.
type closeReport struct {
	OK       int            `json:"ok"`
	Failed   int            `json:"failed"`
	Errors   map[string]int `json:"errors,omitempty"`
	ElapsedS float64        `json:"elapsed_s"`
}

// loginAll logs in n sessions, at most conc at a time. Session i is account
// i % o.accounts with resource prefix+i. Sessions that logged in are held
// and returned; logins not started before ctx ends count as failed.
func loginAll(ctx context.Context, c *client, o *options, n, conc int, prefix string) ([]*session, loginReport) {
	sessions := make([]*session, n)
	totals := make([]time.Duration, n)
	steps := make([]phases, n)
	var errs errorCounts
	var next atomic.Int64
	pbkdf2 := c.keys.derivations.Load()
	start := time.Now()
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if ctx.Err() != nil {
					errs.add(errors.New("not started: the run's -timeout passed"))
					continue
				}
				t0 := time.Now()
				s, p, err := c.login(ctx, o.username(i%o.accounts), prefix+strconv.Itoa(i))
				if err != nil {
					errs.add(err)
					continue
				}
				totals[i], steps[i], sessions[i] = time.Since(t0), p, s
				s.hold()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	var held []*session
	var ok []time.Duration
	byPhase := map[string][]time.Duration{}
	for i, s := range sessions {
		if s == nil {
			continue
		}
		held = append(held, s)
		ok = append(ok, totals[i])
		p := steps[i]
		for name, d := range map[string]time.Duration{"connect": p.connect, "tls": p.tls, "sasl": p.sasl, "bind": p.bind, "online": p.online} {
			byPhase[name] = append(byPhase[name], d)
		}
	}
	r := loginReport{
		OK:        len(held),
		Failed:    errs.total(),
		Errors:    errs.counts(),
		ElapsedS:  seconds(elapsed),
		LatencyMS: summarize(ok),
		PhasesMS:  map[string]latency{},
		PBKDF2:    c.keys.derivations.Load() - pbkdf2,
	}
	if elapsed > 0 {
		r.SessionsPerS = math.Round(float64(len(held))/elapsed.Seconds()*10) / 10
	}
	for name, ds := range byPhase {
		r.PhasesMS[name] = summarize(ds)
	}
	return held, r
}

// closeAll closes sessions, at most conc at a time, all within the client
// timeout. A session the server had already ended counts as failed.
func closeAll(c *client, sessions []*session, conc int) closeReport {
	var errs errorCounts
	var next atomic.Int64
	start := time.Now()
	deadline := start.Add(c.timeout)
	var wg sync.WaitGroup
	for range min(conc, len(sessions)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(sessions) {
					return
				}
				if err := sessions[i].close(deadline); err != nil {
					errs.add(err)
				}
			}
		})
	}
	wg.Wait()
	return closeReport{
		OK:       len(sessions) - errs.total(),
		Failed:   errs.total(),
		Errors:   errs.counts(),
		ElapsedS: seconds(time.Since(start)),
	}
}

// countDropped returns how many held sessions the server has ended.
func countDropped(sessions []*session) int {
	n := 0
	for _, s := range sessions {
		if !s.alive() {
			n++
		}
	}
	return n
}
