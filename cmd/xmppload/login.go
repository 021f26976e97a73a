package main

import (
	"context"
	"fmt"
)

// loginResult is the JSON result of the login scenario.
type loginResult struct {
	// Warmup logged every account in once, unmeasured, so that the
	// measured logins find their SCRAM keys cached.
	Warmup *warmupReport `json:"warmup,omitempty"`
	// ServerPID is the server process whose CPU time is reported (0: not
	// found).
	ServerPID int         `json:"server_pid,omitempty"`
	Logins    loginReport `json:"logins"`
	// CPU is the CPU time used during the measured logins.
	CPU cpuReport `json:"cpu"`
	// Dropped counts sessions the server ended before the client closed
	// them.
	Dropped int         `json:"dropped"`
	Close   closeReport `json:"close"`
}

// warmupReport is the unmeasured warm-up pass.
type warmupReport struct {
	OK       int            `json:"ok"`
	Failed   int            `json:"failed"`
	Errors   map[string]int `json:"errors,omitempty"`
	ElapsedS float64        `json:"elapsed_s"`
	PBKDF2   int64          `json:"pbkdf2_derivations"`
}

// runLogin logs in o.n sessions, o.concurrency at a time (each: TLS, SASL,
// bind, initial presence, one ping), then closes them all.
func runLogin(ctx context.Context, o *options, c *client) outcome {
	var r loginResult
	if o.warmup {
		held, w := loginAll(ctx, c, o, o.accounts, o.concurrency, "xmppload-warmup-")
		cl := closeAll(c, held, o.concurrency)
		r.Warmup = &warmupReport{OK: w.OK, Failed: w.Failed + cl.Failed, Errors: w.Errors, ElapsedS: round3(w.ElapsedS + cl.ElapsedS), PBKDF2: w.PBKDF2}
		for k, v := range cl.Errors {
			r.Warmup.Errors[k] += v
		}
	}
	r.ServerPID = o.pid
	if r.ServerPID == 0 {
		r.ServerPID, _ = pidListening(o.port) // CPU time is optional here
	}
	cpu := cpuMeter(r.ServerPID)
	held, l := loginAll(ctx, c, o, o.n, o.concurrency, "xmppload-")
	r.Logins, r.CPU = l, cpu(l.OK)
	r.Dropped = countDropped(held)
	r.Close = closeAll(c, held, o.concurrency)

	summary := fmt.Sprintf("login: %d/%d sessions in %.2fs = %.1f sessions/s (concurrency %d, %d accounts, %d PBKDF2 in the measured pass)\n",
		l.OK, o.n, l.ElapsedS, l.SessionsPerS, o.concurrency, o.accounts, l.PBKDF2)
	summary += fmt.Sprintf("login latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", l.LatencyMS.P50, l.LatencyMS.P90, l.LatencyMS.P99, l.LatencyMS.Max)
	summary += cpuLine(r.CPU)
	summary += problems(l.Errors, r.Dropped, r.Close)
	failed := l.Failed > 0 || r.Dropped > 0 || r.Close.Failed > 0 || (r.Warmup != nil && r.Warmup.Failed > 0)
	return outcome{result: r, summary: summary, failed: failed}
}

// problems describes login errors, dropped sessions and close errors, one
// line each, or returns "" when there were none.
func problems(loginErrs map[string]int, dropped int, cl closeReport) string {
	s := ""
	for e, n := range loginErrs {
		s += fmt.Sprintf("  login failed %d×: %s\n", n, e)
	}
	if dropped > 0 {
		s += fmt.Sprintf("  %d sessions ended by the server before the client closed them\n", dropped)
	}
	for e, n := range cl.Errors {
		s += fmt.Sprintf("  close failed %d×: %s\n", n, e)
	}
	return s
}

// cpuLine describes a cpuReport for the summary.
func cpuLine(c cpuReport) string {
	return fmt.Sprintf("CPU per login: server %.2f ms, client %.2f ms\n", c.ServerMSPerLogin, c.ClientMSPerLogin)
}
