// Command xmppload puts a measured load on an XMPP server: clients over
// TCP with STARTTLS (RFC 6120 §5), SASL SCRAM-SHA-256 or SCRAM-SHA-1
// (RFC 5802, RFC 7677), resource binding, initial presence (RFC 6121) and
// ping (XEP-0199).
//
// Usage:
//
//	xmppload SCENARIO [flags]
//
// Scenarios are listed by xmppload -h; see docs/memory.md for runs against
// xmppd. Every run is bounded by -n sessions and the -timeout, and refuses
// a target that is not a loopback address unless -allow-remote is given.
// It writes one JSON object to stdout and a short summary to stderr, and
// exits 1 if anything failed, 2 on bad usage.
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
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// report is the JSON object a run writes to stdout.
type report struct {
	Scenario    string `json:"scenario"`
	Started     string `json:"started"`
	Target      string `json:"target"`
	Domain      string `json:"domain"`
	Mechanism   string `json:"mechanism"`
	KeyExchange string `json:"key_exchange"`
	Sessions    int    `json:"sessions"`
	Concurrency int    `json:"concurrency"`
	Accounts    int    `json:"accounts"`
	NumCPU      int    `json:"num_cpu"`
	NofileSoft  uint64 `json:"nofile_soft"`
	NofileHard  uint64 `json:"nofile_hard"`
	// LoadAvg is /proc/loadavg at the start and the end: other work on the
	// machine skews every figure.
	LoadAvg   [2]string     `json:"loadavg"`
	Create    *createReport `json:"create,omitempty"`
	DurationS float64       `json:"duration_s"`
	OK        bool          `json:"ok"`
	Error     string        `json:"error,omitempty"`
	Result    any           `json:"result,omitempty"`
}

// run runs the command and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || scenarios[args[0]].run == nil {
		usage(stderr)
		return 2
	}
	name := args[0]
	o, err := parseOptions(args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "xmppload:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := checkTarget(ctx, o); err != nil {
		fmt.Fprintln(stderr, "xmppload:", err)
		return 2
	}
	soft, hard, err := raiseFileLimit()
	if err != nil {
		fmt.Fprintln(stderr, "xmppload:", err)
		return 1
	}
	// One descriptor per session, plus a few for the runtime and stdio.
	if need := uint64(o.n) + 32; need > soft {
		fmt.Fprintf(stderr, "xmppload: -n %d sessions need about %d file descriptors, but RLIMIT_NOFILE is %d (hard %d): raise the hard limit (ulimit -Hn) or lower -n\n", o.n, need, soft, hard)
		return 2
	}

	start := time.Now()
	rep := report{
		Scenario: name, Started: start.UTC().Format(time.RFC3339), Target: o.addr(), Domain: o.domain,
		Mechanism: o.mechanism, KeyExchange: o.kex, Sessions: o.n, Concurrency: o.concurrency, Accounts: o.accounts,
		NumCPU: runtime.NumCPU(), NofileSoft: soft, NofileHard: hard,
	}
	rep.LoadAvg[0] = loadAvg()
	var out outcome
	if o.create != "" {
		cr, err := createAccounts(ctx, o)
		rep.Create = &cr
		if err != nil {
			out.err = err
		} else {
			fmt.Fprintf(stderr, "created %d accounts in %.1fs\n", cr.Created, cr.ElapsedS)
		}
	}
	if out.err == nil {
		out = scenarios[name].run(ctx, o, newClient(o))
	}
	rep.DurationS = seconds(time.Since(start))
	rep.LoadAvg[1] = loadAvg()
	rep.Result, rep.OK = out.result, out.err == nil && !out.failed
	if out.err != nil {
		rep.Error = out.err.Error()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
	fmt.Fprint(stderr, out.summary)
	if out.err != nil {
		fmt.Fprintln(stderr, "xmppload:", out.err)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// usage lists the scenarios.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: xmppload SCENARIO [flags]   (xmppload SCENARIO -h lists the flags)")
	fmt.Fprintln(w, "scenarios:")
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, strings.ReplaceAll(scenarios[n].doc, "\n", "\n           "))
	}
}
