package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"xmppd/xmlstream"
)

// chatResult is the JSON result of the chat scenario.
type chatResult struct {
	ServerPID int           `json:"server_pid,omitempty"`
	Logins    loginReport   `json:"logins"`
	Steps     []trafficStep `json:"steps"`
	// BestRate is the highest offered rate that passed (loss below
	// -max-loss, p99 below -max-p99, the rate really sent); 0: none did.
	BestRate float64     `json:"best_rate"`
	Dropped  int         `json:"dropped"`
	Close    closeReport `json:"close"`
}

// runChat logs in o.n sessions, then has random online sessions send
// type='chat' messages to other random online sessions (full JIDs) at
// o.rate messages/s in total for o.duration, and measures what arrives.
// With -ladder it repeats that at other rates to find the highest one that
// passes.
func runChat(ctx context.Context, o *options, c *client) outcome {
	if o.n < 2 {
		return outcome{err: fmt.Errorf("chat needs -n of at least 2")}
	}
	var ts trackers
	c.onStanza = func(_ *session, el *xmlstream.Element) {
		if el.Name.Local == "message" {
			ts.onBody(el)
		}
	}
	pid := serverPID(o)
	held, l := loginAll(ctx, c, o, o.n, o.concurrency, "xmppload-")
	r := chatResult{ServerPID: pid, Logins: l}
	summary := fmt.Sprintf("chat: %d/%d sessions online (%.1f logins/s)\n", l.OK, o.n, l.SessionsPerS)
	if len(held) >= 2 {
		send := func(step, seq int) error {
			from := rand.IntN(len(held))
			to := held[pick(len(held), from)]
			return held[from].send(fmt.Sprintf("<message type='chat' id='xl%d-%d' to='%s'><body>%s</body></message>", step, seq, escape(to.jid), messageBody(step, seq)))
		}
		r.Steps, r.BestRate = ladder(ctx, o, c, func(step int, rate float64) trafficStep {
			t := newTracker(capacity(rate, o.duration), 1)
			ts[step].Store(t)
			st := pace(ctx, o, pid, step, t, rate, o.duration, min(len(held), 64), send)
			summary += stepLine("  chat", st)
			return st
		})
	}
	r.Dropped = countDropped(held)
	r.Close = closeAll(c, held, o.concurrency)
	if o.ladder {
		summary += fmt.Sprintf("chat ladder: highest rate passing (loss < %g%%, p99 < %s): %.0f msgs/s\n", o.maxLossPct, o.maxP99, r.BestRate)
	}
	summary += problems(l.Errors, r.Dropped, r.Close)
	failed := l.Failed > 0 || r.Dropped > 0 || r.Close.Failed > 0 || len(held) < 2
	if !o.ladder && (len(r.Steps) == 0 || !r.Steps[0].Pass) {
		failed = true
	}
	return outcome{result: r, summary: summary, failed: failed}
}

// maxStepMessages bounds the messages of one step.
const maxStepMessages = 5_000_000

// capacity is the most messages a step at rate for d may send.
func capacity(rate float64, d time.Duration) int {
	return min(int(math.Ceil(rate*d.Seconds()))+1, maxStepMessages)
}

// serverPID is -pid or the process listening on -port (0: not found; CPU
// figures are then left out).
func serverPID(o *options) int {
	if o.pid != 0 {
		return o.pid
	}
	pid, _ := pidListening(o.port)
	return pid
}
