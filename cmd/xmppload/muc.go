package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"xmppd/xmlstream"
)

// Multi-user chat (XEP-0045) namespaces.
const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCUser  = nsMUC + "#user"
	nsMUCOwner = nsMUC + "#owner"
)

// mucResult is the JSON result of the muc scenario.
type mucResult struct {
	ServerPID int         `json:"server_pid,omitempty"`
	Room      string      `json:"room"`
	Logins    loginReport `json:"logins"`
	Occupants int         `json:"occupants"` // joined the room
	JoinS     float64     `json:"join_s"`
	Senders   int         `json:"senders"`
	// Steps count every copy: a message to the room should reach each
	// occupant, the sender included.
	Steps    []trafficStep `json:"steps"`
	BestRate float64       `json:"best_rate"` // messages/s sent; × occupants delivered
	Dropped  int           `json:"dropped"`
	Close    closeReport   `json:"close"`
}

// runMUC logs in o.n sessions, joins them all to one room (the first one
// creates it, as an instant room), then has the first o.senders send
// groupchat messages at o.rate messages/s in total for o.duration, and
// measures the copies that reach the occupants.
func runMUC(ctx context.Context, o *options, c *client) outcome {
	room := o.room
	if room == "" {
		room = fmt.Sprintf("xmppload-%08x@%s", rand.Uint32(), o.mucService)
	}
	var ts trackers
	var w waiters
	c.onStanza = func(_ *session, el *xmlstream.Element) {
		switch el.Name.Local {
		case "message":
			if el.Attr("type") == "groupchat" || el.Attr("type") == "error" {
				ts.onBody(el)
			}
		case "presence":
			// A join is done at the occupant's own presence (status 110),
			// or failed at an error.
			if x := el.Child(nsMUCUser, "x"); el.Attr("type") == "error" || x != nil && hasStatus(x, "110") {
				w.deliver("presence "+el.Attr("from"), el)
			}
		case "iq":
			w.deliver("iq "+el.Attr("id"), el)
		}
	}
	pid := serverPID(o)
	held, l := loginAll(ctx, c, o, o.n, o.concurrency, "xmppload-")
	r := mucResult{ServerPID: pid, Room: room, Logins: l}
	summary := fmt.Sprintf("muc: %d/%d sessions online (%.1f logins/s), room %s\n", l.OK, o.n, l.SessionsPerS, room)

	occupants, joinS, err := joinAll(ctx, o, c, &w, held, room)
	r.Occupants, r.JoinS = len(occupants), joinS
	summary += fmt.Sprintf("  %d occupants joined in %.2fs\n", len(occupants), joinS)
	if err != nil {
		summary += "  join: " + err.Error() + "\n"
	}
	r.Senders = min(o.senders, len(occupants))
	if err == nil && r.Senders > 0 {
		send := func(step, seq int) error {
			from := occupants[rand.IntN(r.Senders)]
			return from.send(fmt.Sprintf("<message type='groupchat' id='xl%d-%d' to='%s'><body>%s</body></message>", step, seq, escape(room), messageBody(step, seq)))
		}
		r.Steps, r.BestRate = ladder(ctx, o, c, func(step int, rate float64) trafficStep {
			t := newTracker(capacity(rate, o.duration), len(occupants))
			ts[step].Store(t)
			st := pace(ctx, o, pid, step, t, rate, o.duration, r.Senders, send)
			summary += stepLine("  muc", st)
			return st
		})
	}
	r.Dropped = countDropped(held)
	r.Close = closeAll(c, held, o.concurrency)
	if o.ladder {
		summary += fmt.Sprintf("muc ladder: highest rate passing: %.0f msgs/s sent, %.0f copies/s delivered to %d occupants\n", r.BestRate, r.BestRate*float64(len(occupants)), len(occupants))
	}
	summary += problems(l.Errors, r.Dropped, r.Close)
	failed := err != nil || l.Failed > 0 || r.Dropped > 0 || r.Close.Failed > 0 || len(r.Steps) == 0
	if !o.ladder && len(r.Steps) > 0 && !r.Steps[0].Pass {
		failed = true
	}
	return outcome{result: r, summary: summary, failed: failed}
}

// joinAll joins every session to room, nickname "xl" + index: the first
// alone (configuring the room as an instant room if it created it and the
// server keeps it locked), then the others o.concurrency at a time.
func joinAll(ctx context.Context, o *options, c *client, w *waiters, held []*session, room string) ([]*session, float64, error) {
	if len(held) == 0 {
		return nil, 0, fmt.Errorf("no session online")
	}
	start := time.Now()
	join := func(i int) error {
		occupant := room + "/xl" + strconv.Itoa(i)
		ch := w.expect("presence " + occupant)
		if err := held[i].send("<presence to='" + escape(occupant) + "'><x xmlns='" + nsMUC + "'><history maxstanzas='0'/></x></presence>"); err != nil {
			return err
		}
		el, err := wait(ctx, c, ch, "join")
		if err != nil {
			return err
		}
		if el.Attr("type") == "error" {
			return fmt.Errorf("join refused: %s", condition(el.Child("", "error")))
		}
		if i == 0 && hasStatus(el.Child(nsMUCUser, "x"), "201") {
			// A new room: accept the default configuration (XEP-0045 §10.1.2).
			ch := w.expect("iq xl-room-config")
			if err := held[0].send("<iq type='set' id='xl-room-config' to='" + escape(room) + "'><query xmlns='" + nsMUCOwner + "'><x xmlns='jabber:x:data' type='submit'/></query></iq>"); err != nil {
				return err
			}
			el, err := wait(ctx, c, ch, "room configuration")
			if err != nil {
				return err
			}
			if el.Attr("type") != "result" {
				return fmt.Errorf("room configuration: %s", condition(el.Child("", "error")))
			}
		}
		return nil
	}
	if err := join(0); err != nil {
		return nil, 0, err
	}
	var errs errorCounts
	joined := make([]bool, len(held))
	joined[0] = true
	sem := make(chan struct{}, o.concurrency)
	done := make(chan struct{})
	for i := 1; i < len(held); i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; done <- struct{}{} }()
			if err := join(i); err != nil {
				errs.add(err)
				return
			}
			joined[i] = true
		}()
	}
	for i := 1; i < len(held); i++ {
		<-done
	}
	var occupants []*session
	for i, ok := range joined {
		if ok {
			occupants = append(occupants, held[i])
		}
	}
	var err error
	if n := errs.total(); n > 0 {
		var kinds []string
		for e, k := range errs.counts() {
			kinds = append(kinds, fmt.Sprintf("%d× %s", k, e))
		}
		err = fmt.Errorf("%d joins failed: %s", n, strings.Join(kinds, "; "))
	}
	return occupants, seconds(time.Since(start)), err
}

// hasStatus reports whether a MUC <x/> carries status code.
func hasStatus(x *xmlstream.Element, code string) bool {
	if x == nil {
		return false
	}
	for _, s := range x.ChildElements() {
		if s.Name.Local == "status" && s.Attr("code") == code {
			return true
		}
	}
	return false
}
