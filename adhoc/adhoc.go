// Package adhoc implements XEP-0050: Ad-Hoc Commands, for commands the
// server offers at its own JID: discovery of the commands a requester
// may run, their execution in one or two stages (a form to fill in, then
// its submission), and cancellation.
package adhoc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0050, and the node of the command list.
const NS = "http://jabber.org/protocol/commands"

// Command is one command.
type Command struct {
	Node string
	Name string
	// Allowed reports whether requester may see and run the command.
	Allowed func(requester jid.JID) bool
	// Form is the form the requester fills in; a command without one
	// runs at once.
	Form *dataform.Form
	// Run runs the command and returns a note for the requester, and a
	// form of results or nil. A *Failure is shown to the requester as an
	// error note; another error is an internal-server-error.
	Run func(ctx context.Context, req Request) (note string, result *dataform.Form, err error)
}

// Request is one run of a command.
type Request struct {
	From jid.JID       // the requester
	To   jid.JID       // the server JID the command was sent to
	Form dataform.Form // as submitted; empty for a command without one
}

// Failure is a command's refusal, told to the requester, such as an
// account that does not exist.
type Failure struct{ Text string }

func (f *Failure) Error() string { return f.Text }

// Service offers commands at the server's JID.
type Service struct {
	mu       sync.Mutex
	commands []Command
	sessions map[string]session // by session id
}

// session is a command waiting for its form, or one that ended: an
// ended session is kept for another sessionTimeout, so that a late
// request to it is told that it expired rather than that it is unknown
// (XEP-0050 §4.6).
type session struct {
	node      string
	requester string    // full JID
	expires   time.Time // when it stops waiting, or when it ended
	ended     bool      // completed or canceled
}

// waiting reports whether ss still waits for its form at now.
func (ss session) waiting(now time.Time) bool { return !ss.ended && !now.After(ss.expires) }

// Session limits: a form may wait this long, and this many at once.
const (
	sessionTimeout = 10 * time.Minute
	maxSessions    = 1000
)

// closed is what closing a session found.
type closed int

const (
	// unknownSession is no session of the command opened by the
	// requester.
	unknownSession closed = iota
	// expiredSession is one that was completed, canceled or timed out.
	expiredSession
	// waitingSession is one that waited for its form: closed now, if
	// closing was asked.
	waitingSession
)

// New returns the service, answering ad-hoc commands and their discovery
// at the server's JID on r.
func New(r *router.Router) *Service {
	s := &Service{sessions: map[string]session{}}
	r.AddFeature(NS)
	r.AddServerNodes(s)
	r.HandleIQ(router.ToServer, "set", NS, "command", s.handle)
	return s
}

// Add offers c.
func (s *Service) Add(c Command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands = append(s.commands, c)
}

// command returns the command at node that requester may run. found is
// false when no command is at node; allowed is false when requester may
// not run the one there.
func (s *Service) command(node string, requester jid.JID) (c Command, found, allowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.commands {
		if c.Node == node {
			found = true
			if c.Allowed(requester) {
				return c, true, true
			}
		}
	}
	return Command{}, found, false
}

// NodeInfo implements router.NodeHandler: the command list (XEP-0050
// §2.2) and each command the requester may run (§2.3).
func (s *Service) NodeInfo(ctx context.Context, iq router.IQ, node string) ([]router.Identity, []string, bool) {
	if node == NS {
		return []router.Identity{{Category: "automation", Type: "command-list"}}, nil, true
	}
	c, _, allowed := s.command(node, iq.From)
	if !allowed {
		return nil, nil, false
	}
	return []router.Identity{{Category: "automation", Type: "command-node", Name: c.Name}}, []string{NS, dataform.NS}, true
}

// NodeItems implements router.NodeHandler: the commands the requester may
// run (XEP-0050 §2.2).
func (s *Service) NodeItems(ctx context.Context, iq router.IQ, node string) ([]router.DiscoItem, bool) {
	if node != NS {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []router.DiscoItem{}
	for _, c := range s.commands {
		if c.Allowed(iq.From) {
			items = append(items, router.DiscoItem{JID: iq.To, Node: c.Node, Name: c.Name})
		}
	}
	return items, true
}

// handle answers <command/> (XEP-0050 §3.4): execute starts a command,
// complete (or execute) with a session submits its form, cancel ends it.
func (s *Service) handle(ctx context.Context, iq router.IQ) *xmlstream.Element {
	node, id, action := iq.Payload.Attr("node"), iq.Payload.Attr("sessionid"), iq.Payload.Attr("action")
	c, found, allowed := s.command(node, iq.From)
	switch {
	case !found:
		return commandError(iq, stanza.ItemNotFound, "")
	case !allowed:
		// XEP-0050 §4.6: the requester may not run the command. Its
		// disco#info still hides it, as the command list does.
		return commandError(iq, stanza.Forbidden, "")
	}
	switch action {
	case "", "execute", "cancel", "prev", "next", "complete":
	default:
		return commandError(iq, stanza.BadRequest, "malformed-action")
	}
	if id == "" {
		// A command starts with execute; the other actions act on a
		// session.
		if action != "" && action != "execute" {
			return commandError(iq, stanza.BadRequest, "bad-action")
		}
		if c.Form == nil {
			return s.run(ctx, iq, c, "", dataform.Form{})
		}
		id = s.open(node, iq.From)
		if id == "" {
			return commandError(iq, stanza.ResourceConstraint, "")
		}
		form := *c.Form
		form.Type = "form"
		return iq.Result(reply(node, id, "executing").
			AddChild(xmlstream.NewElement(NS, "actions", "execute", "complete").AddChild(xmlstream.NewElement(NS, "complete"))).
			AddChild(form.Element()))
	}
	// A request the session cannot take is refused before the session
	// is closed: it still waits for its form, or its cancellation. One
	// to a session that is not waiting is told so first.
	if st := s.lookup(id, node, iq.From, false); st != waitingSession {
		return sessionError(iq, st)
	}
	var form dataform.Form
	switch action {
	case "cancel":
	case "", "execute", "complete":
		x := iq.Payload.Child(dataform.NS, "x")
		if x == nil {
			return commandError(iq, stanza.BadRequest, "bad-payload")
		}
		if form = dataform.Parse(x); form.Type != "submit" || !filled(c.Form, form) {
			return commandError(iq, stanza.BadRequest, "bad-payload")
		}
	default:
		return commandError(iq, stanza.BadRequest, "bad-action")
	}
	if st := s.lookup(id, node, iq.From, true); st != waitingSession {
		return sessionError(iq, st) // another request closed it meanwhile
	}
	if action == "cancel" {
		return iq.Result(reply(node, id, "canceled"))
	}
	return s.run(ctx, iq, c, id, form)
}

// sessionError answers iq, a request to a session that is unknown or
// not waiting any more (XEP-0050 §4.6).
func sessionError(iq router.IQ, st closed) *xmlstream.Element {
	if st == expiredSession {
		return commandError(iq, stanza.NotAllowed, "session-expired")
	}
	return commandError(iq, stanza.BadRequest, "bad-sessionid")
}

// filled reports whether submitted gives a value to each required field
// of form (XEP-0004 §3.2), which may be nil: one missing is bad-payload
// (XEP-0050 §4.6).
func filled(form *dataform.Form, submitted dataform.Form) bool {
	if form == nil {
		return true
	}
	for _, fd := range form.Fields {
		if !fd.Required {
			continue
		}
		got, _ := submitted.Field(fd.Var)
		if !slices.ContainsFunc(got.Values, func(v string) bool { return v != "" }) {
			return false
		}
	}
	return true
}

// run runs c with form and answers its result: completed with a note, or
// with an error note for a Failure.
func (s *Service) run(ctx context.Context, iq router.IQ, c Command, id string, form dataform.Form) *xmlstream.Element {
	if id == "" {
		id = stanza.NewID()
	}
	note, result, err := c.Run(ctx, Request{From: iq.From, To: iq.To, Form: form})
	noteType := "info"
	if f := (*Failure)(nil); errors.As(err, &f) {
		note, noteType, result = f.Text, "error", nil
	} else if err != nil {
		return commandError(iq, stanza.InternalServerError, "")
	}
	out := reply(c.Node, id, "completed")
	if note != "" {
		out.AddChild(xmlstream.NewElement(NS, "note", "type", noteType).AddText(note))
	}
	if result != nil {
		result.Type = "result"
		out.AddChild(result.Element())
	}
	return iq.Result(out)
}

func reply(node, id, status string) *xmlstream.Element {
	return xmlstream.NewElement(NS, "command", "node", node, "sessionid", id, "status", status)
}

// commandError answers iq with an error of condition and XEP-0050's
// specific condition, if any (§4.6). It carries the <command/> without
// its form, which may hold a password.
func commandError(iq router.IQ, condition, specific string) *xmlstream.Element {
	cmd := xmlstream.NewElement(NS, "command", "node", iq.Payload.Attr("node"))
	if id := iq.Payload.Attr("sessionid"); id != "" {
		cmd.SetAttr("sessionid", id)
	}
	shell := xmlstream.NewElement(stanza.NSClient, stanza.IQ, "type", iq.Type, "id", iq.Stanza.Attr("id"),
		"from", iq.From.String(), "to", iq.To.String()).AddChild(cmd)
	e := stanza.ErrorReply(shell, condition, "")
	if specific != "" {
		e.Child(stanza.NSClient, "error").AddChild(xmlstream.NewElement(NS, specific))
	}
	return e
}

// open starts a session of node for requester and returns its id, or ""
// when too many wait.
func (s *Service) open(node string, requester jid.JID) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	waiting := 0
	for id, ss := range s.sessions {
		switch {
		case now.After(ss.expires.Add(sessionTimeout)):
			delete(s.sessions, id)
		case ss.waiting(now):
			waiting++
		}
	}
	if waiting >= maxSessions {
		return ""
	}
	if len(s.sessions) >= 2*maxSessions {
		// Too many ended ones to remember: a late request to one of
		// them is told it is unknown instead.
		for id, ss := range s.sessions {
			if !ss.waiting(now) {
				delete(s.sessions, id)
			}
		}
	}
	id := stanza.NewID()
	s.sessions[id] = session{node: node, requester: requester.String(), expires: now.Add(sessionTimeout)}
	return id
}

// lookup tells whether the session id of node, which requester must
// have opened, is waiting, has ended or timed out, or is unknown; with
// end, a waiting session is ended.
func (s *Service) lookup(id, node string, requester jid.JID, end bool) closed {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok || ss.node != node || ss.requester != requester.String() {
		return unknownSession
	}
	now := time.Now()
	if !ss.waiting(now) {
		return expiredSession
	}
	if !end {
		return waitingSession
	}
	ss.ended, ss.expires = true, now
	s.sessions[id] = ss
	return waitingSession
}
