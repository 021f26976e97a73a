package main

import "context"

// scenario is one kind of load. A new scenario is one file holding its run
// function, plus its line in scenarios.
type scenario struct {
	doc string // one line for the usage text
	run func(ctx context.Context, o *options, c *client) outcome
}

// scenarios are the loads xmppload knows, by name.
var scenarios = map[string]scenario{
	"login": {"N logins, C at a time: sessions/s and login latency", runLogin},
	"idle":  {"hold N sessions: the server's RSS growth per session (-pid)", runIdle},
	"chat":  {"N online sessions send to random others at -rate msgs/s for -duration:\ndelivered msgs/s, latency, loss; -ladder finds the highest rate passing", runChat},
	"muc":   {"N sessions join one room (or -rooms R, N/R each), the first -senders\nof each send at -rate msgs/s in total: delivered copies/s, latency\n(with -rooms, also the worst room's p99), loss (-ladder as in chat)", runMUC},
	"mam":   {"N sessions each send -fill messages, then page their archive\n(XEP-0313, RSM pages of -page): latency per page", runMAM},
}

// outcome is what a scenario returns.
type outcome struct {
	result  any    // the JSON "result"
	summary string // lines for a human, on stderr
	failed  bool   // some login, close or measurement failed
	err     error  // the scenario could not run
}
