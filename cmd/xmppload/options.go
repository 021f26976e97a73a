package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// options are the command-line settings shared by every scenario.
type options struct {
	host, domain string
	port         int
	morePorts    []int // a cluster's other nodes
	allowRemote  bool
	tlsVerify    bool
	mechanism    string
	kex          string // TLS key exchange the client offers: x25519 or hybrid

	user, password string
	accounts       int // distinct accounts; session i uses account i % accounts
	n, concurrency int

	create            string // shell command template creating one account
	createConcurrency int
	warmup            bool

	timeout   time.Duration // the whole run
	opTimeout time.Duration // one login, one close
	settle    time.Duration // idle: wait before reading the server's RSS
	pid       int           // idle: the server process; 0 finds it by port

	// chat, muc, mam
	rate        float64       // messages/s offered, in total
	duration    time.Duration // of one step
	drain       time.Duration // wait for late messages after a step
	ladder      bool          // search the highest rate that passes
	ladderSteps int
	maxLossPct  float64
	maxP99      time.Duration
	senders     int           // muc: occupants that send, per room
	room        string        // muc: room JID; empty: a new one on -muc-service
	rooms       int           // muc: rooms the sessions are spread over
	maxRoomP99  time.Duration // muc: every room's p99 below it; 0: maxP99
	mucService  string
	fill        int // mam: messages each session sends before paging
	page        int // mam: RSM page size
	pages       int // mam: most pages each session reads
}

// roomP99 is the p99 latency every room must stay below.
func (o *options) roomP99() time.Duration {
	if o.maxRoomP99 > 0 {
		return o.maxRoomP99
	}
	return o.maxP99
}

// addr is the target's host:port.
func (o *options) addr() string { return net.JoinHostPort(o.host, strconv.Itoa(o.port)) }

// addrs are the addresses sessions connect to in turn: -port and the
// -more-ports of a cluster's other nodes.
func (o *options) addrs() []string {
	as := []string{o.addr()}
	for _, p := range o.morePorts {
		as = append(as, net.JoinHostPort(o.host, strconv.Itoa(p)))
	}
	return as
}

// username is the localpart of account i.
func (o *options) username(i int) string { return o.user + strconv.Itoa(i) }

// parseOptions reads the flags in args (the scenario name already removed).
func parseOptions(args []string, usage io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("xmppload", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&o.host, "host", "127.0.0.1", "server host")
	fs.IntVar(&o.port, "port", 5222, "server STARTTLS port")
	fs.Func("more-ports", "STARTTLS ports of a cluster's other nodes, comma-separated: sessions connect to -port and these in turn (CPU and RSS are read of -port's process)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			p, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || p <= 0 || p > 65535 {
				return fmt.Errorf("%q is not a port", f)
			}
			o.morePorts = append(o.morePorts, p)
		}
		return nil
	})
	fs.StringVar(&o.domain, "domain", "localhost", "XMPP domain of the accounts")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.BoolVar(&o.tlsVerify, "tls-verify", false, "verify the server certificate (off: self-signed test servers)")
	fs.StringVar(&o.mechanism, "mech", "SCRAM-SHA-256", "SASL mechanism: SCRAM-SHA-256 or SCRAM-SHA-1")
	fs.StringVar(&o.kex, "kex", "x25519", "TLS key exchange offered: x25519, the group every server here supports, or hybrid (X25519MLKEM768, then X25519)")
	fs.StringVar(&o.user, "user", "load", "account localpart prefix; accounts are PREFIX0, PREFIX1, ...")
	fs.StringVar(&o.password, "password", "xmppload-secret", "password of every account")
	fs.IntVar(&o.accounts, "accounts", 0, "distinct accounts (0: one per session); sessions share them round-robin with distinct resources")
	fs.IntVar(&o.n, "n", 100, "sessions")
	fs.IntVar(&o.concurrency, "c", 10, "logins in flight at once")
	fs.StringVar(&o.create, "create", "", "shell command creating one account before the run, with {user} and {domain} replaced; the password is on its stdin (empty: accounts exist)")
	fs.IntVar(&o.createConcurrency, "create-c", 4, "account creation commands run at once")
	fs.BoolVar(&o.warmup, "warmup", true, "login: log every account in once before measuring, so the SCRAM key cache is warm")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	fs.DurationVar(&o.opTimeout, "op-timeout", 30*time.Second, "bound on one login or one close")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "idle: wait after the last login before reading the server's RSS")
	fs.IntVar(&o.pid, "pid", 0, "idle: server process id (0: the process listening on -port)")
	fs.Float64Var(&o.rate, "rate", 100, "chat, muc, mam: messages sent per second, all senders together (the ladder's first rate)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "chat, muc: how long one step sends")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "chat, muc, mam: longest wait for the messages still in flight after a step; later ones count as lost")
	fs.BoolVar(&o.ladder, "ladder", false, "chat, muc: find the highest rate that passes: ×2 from -rate while steps pass, then bisect")
	fs.IntVar(&o.ladderSteps, "ladder-steps", 10, "chat, muc: most steps of the ladder (at most 32)")
	fs.Float64Var(&o.maxLossPct, "max-loss", 1, "chat, muc: a step passes with less loss than this, in percent")
	fs.DurationVar(&o.maxP99, "max-p99", time.Second, "chat, muc: a step passes with a p99 latency below this")
	fs.IntVar(&o.senders, "senders", 10, "muc: occupants that send, per room (each room's first S)")
	fs.StringVar(&o.room, "room", "", "muc: room JID (empty: a new room xmppload-RANDOM on -muc-service)")
	fs.IntVar(&o.rooms, "rooms", 1, "muc: rooms xmppload-RANDOM-K on -muc-service; session i joins room i % R, each message goes to a random room (-n a multiple of R)")
	fs.DurationVar(&o.maxRoomP99, "max-room-p99", 0, "muc with -rooms > 1: a step passes with every room's p99 latency below this (0: -max-p99)")
	fs.StringVar(&o.mucService, "muc-service", "conference.localhost", "muc: the multi-user chat service")
	fs.IntVar(&o.fill, "fill", 200, "mam: messages each session sends to the next one before the paging")
	fs.IntVar(&o.page, "page", 50, "mam: RSM page size (<max/>)")
	fs.IntVar(&o.pages, "pages", 100, "mam: most pages each session reads")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.accounts <= 0 || o.accounts > o.n {
		o.accounts = o.n
	}
	switch {
	case o.n <= 0 || o.concurrency <= 0 || o.createConcurrency <= 0:
		return nil, errors.New("-n, -c and -create-c must be positive")
	case o.mechanism != "SCRAM-SHA-256" && o.mechanism != "SCRAM-SHA-1":
		return nil, fmt.Errorf("-mech %q: want SCRAM-SHA-256 or SCRAM-SHA-1", o.mechanism)
	case o.kex != "x25519" && o.kex != "hybrid":
		return nil, fmt.Errorf("-kex %q: want x25519 or hybrid", o.kex)
	case o.rate <= 0 || o.duration <= 0 || o.drain < 0 || o.ladderSteps < 1 || o.ladderSteps > 32:
		return nil, errors.New("-rate and -duration must be positive, -drain not negative, -ladder-steps 1 to 32")
	case o.senders <= 0 || o.fill < 0 || o.page <= 0 || o.pages <= 0:
		return nil, errors.New("-senders, -page and -pages must be positive, -fill not negative")
	case o.timeout <= 0 || o.opTimeout <= 0 || o.settle < 0:
		return nil, errors.New("-timeout and -op-timeout must be positive, -settle not negative")
	case o.rooms < 1 || o.maxRoomP99 < 0:
		return nil, errors.New("-rooms must be positive, -max-room-p99 not negative")
	case o.n%o.rooms != 0:
		return nil, fmt.Errorf("-n %d is not a multiple of -rooms %d: every room gets -n/-rooms sessions", o.n, o.rooms)
	case o.rooms > 1 && o.room != "":
		return nil, errors.New("-room names one room: leave it out with -rooms > 1")
	}
	return o, nil
}

// checkTarget refuses a host that resolves to anything but loopback
// addresses unless -allow-remote was given: a load tool must not hit a
// server by accident.
func checkTarget(ctx context.Context, o *options) error {
	if o.allowRemote {
		return nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, o.host)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", o.host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, not a loopback address: pass -allow-remote to load a remote server", o.host, a.IP)
		}
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s resolves to no address", o.host)
	}
	return nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
