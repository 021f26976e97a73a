package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"time"
)

// idleResult is the JSON result of the idle scenario.
type idleResult struct {
	ServerPID int         `json:"server_pid"`
	Logins    loginReport `json:"logins"`
	CPU       cpuReport   `json:"cpu"` // during the logins
	SettleS   float64     `json:"settle_s"`
	// Held is the number of sessions still open when the RSS was read.
	Held    int         `json:"held"`
	Dropped int         `json:"dropped"`
	Server  memReport   `json:"server"`
	Client  memReport   `json:"client"`
	Close   closeReport `json:"close"`
	// ServerAfterClose is the server's status right after the close.
	ServerAfterClose *procStatus `json:"server_after_close,omitempty"`
	Warnings         []string    `json:"warnings,omitempty"`
}

// memReport is one process's memory before the logins and after the
// settle period.
type memReport struct {
	Before        procStatus `json:"before"`
	After         procStatus `json:"after"`
	KiBPerSession float64    `json:"kib_per_session"`
	Goroutines    int        `json:"goroutines,omitempty"` // client only
}

// runIdle logs in o.n sessions, holds them through the settle period,
// reads the server's and its own RSS, and closes them. The server is left
// alone: nothing forces a garbage collection there.
func runIdle(ctx context.Context, o *options, c *client) outcome {
	pid := o.pid
	if pid == 0 {
		var err error
		if pid, err = pidListening(o.port); err != nil {
			return outcome{err: err}
		}
	}
	r := idleResult{ServerPID: pid, SettleS: seconds(o.settle)}
	if lim, err := maxOpenFiles(pid); err == nil && lim < int64(o.n)+32 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the server may open only %d files, fewer than -n %d sessions need", lim, o.n))
	}
	serverBefore, err := readStatus(strconv.Itoa(pid))
	if err != nil {
		return outcome{err: err}
	}
	clientBefore, _ := readStatus("self")

	cpu := cpuMeter(pid)
	held, l := loginAll(ctx, c, o, o.n, o.concurrency, "xmppload-")
	r.Logins, r.CPU = l, cpu(l.OK)
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		r.Warnings = append(r.Warnings, "the settle period was cut short: "+context.Cause(ctx).Error())
	}
	serverAfter, err := readStatus(strconv.Itoa(pid))
	if err != nil {
		r.Warnings = append(r.Warnings, "the server process is gone: "+err.Error())
	}
	clientAfter, _ := readStatus("self")
	r.Dropped = countDropped(held)
	r.Held = len(held) - r.Dropped
	r.Server = memReport{Before: serverBefore, After: serverAfter, KiBPerSession: perSession(serverBefore, serverAfter, r.Held)}
	r.Client = memReport{Before: clientBefore, After: clientAfter, KiBPerSession: perSession(clientBefore, clientAfter, r.Held), Goroutines: runtime.NumGoroutine()}

	r.Close = closeAll(c, held, o.concurrency)
	if st, err := readStatus(strconv.Itoa(pid)); err == nil {
		r.ServerAfterClose = &st
	}

	summary := fmt.Sprintf("idle: %d/%d sessions up in %.2fs = %.1f sessions/s; login p50 %.1f ms p99 %.1f ms\n",
		l.OK, o.n, l.ElapsedS, l.SessionsPerS, l.LatencyMS.P50, l.LatencyMS.P99)
	summary += cpuLine(r.CPU)
	summary += fmt.Sprintf("server pid %d RSS %d KiB -> %d KiB after %s settle: %.1f KiB per session (%d held)\n",
		pid, serverBefore.RSSKiB, serverAfter.RSSKiB, o.settle, r.Server.KiBPerSession, r.Held)
	summary += fmt.Sprintf("client RSS %d KiB -> %d KiB: %.1f KiB per session\n", clientBefore.RSSKiB, clientAfter.RSSKiB, r.Client.KiBPerSession)
	summary += problems(l.Errors, r.Dropped, r.Close)
	for _, w := range r.Warnings {
		summary += "  warning: " + w + "\n"
	}
	failed := l.Failed > 0 || r.Dropped > 0 || r.Close.Failed > 0 || serverAfter.RSSKiB == 0
	return outcome{result: r, summary: summary, failed: failed}
}

// perSession is the RSS growth from before to after per session, in KiB.
func perSession(before, after procStatus, sessions int) float64 {
	if sessions == 0 || after.RSSKiB == 0 {
		return 0
	}
	return math.Round(float64(after.RSSKiB-before.RSSKiB)/float64(sessions)*10) / 10
}
