package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
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
	ServerPID int `json:"server_pid,omitempty"`
	// Room is the room's JID; with several rooms, their pattern
	// xmppload-RANDOM-<k>@service.
	Room      string      `json:"room"`
	Rooms     int         `json:"rooms,omitempty"` // with several rooms
	Logins    loginReport `json:"logins"`
	Occupants int         `json:"occupants"`          // joined a room, in all
	CreateS   float64     `json:"create_s,omitempty"` // several rooms: creating them all, part of JoinS
	JoinS     float64     `json:"join_s"`
	Senders   int         `json:"senders"` // per room
	// Steps count every copy: a message to a room should reach each of
	// its occupants, the sender included.
	Steps    []trafficStep `json:"steps"`
	BestRate float64       `json:"best_rate"` // messages/s sent; × occupants per room delivered
	Dropped  int           `json:"dropped"`
	Close    closeReport   `json:"close"`
}

// runMUC logs in o.n sessions and joins them to o.rooms rooms, session i
// to room i % o.rooms (each room's first session creates it, as an instant
// room), then has the first o.senders occupants of each room send
// groupchat messages to it, at o.rate messages/s in total for o.duration,
// each from a random sender of a random room, and measures the copies that
// reach the occupants.
func runMUC(ctx context.Context, o *options, c *client) outcome {
	rooms, pattern := []string{o.room}, o.room
	switch {
	case o.rooms > 1:
		prefix := fmt.Sprintf("xmppload-%08x-", rand.Uint32())
		pattern = prefix + "<k>@" + o.mucService
		rooms = make([]string, o.rooms)
		for k := range rooms {
			rooms[k] = prefix + strconv.Itoa(k) + "@" + o.mucService
		}
	case o.room == "":
		rooms[0] = fmt.Sprintf("xmppload-%08x@%s", rand.Uint32(), o.mucService)
		pattern = rooms[0]
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
	r := mucResult{ServerPID: pid, Room: pattern, Logins: l}
	summary := fmt.Sprintf("muc: %d/%d sessions online (%.1f logins/s), room %s\n", l.OK, o.n, l.SessionsPerS, pattern)
	if len(rooms) > 1 {
		r.Rooms = len(rooms)
		summary = fmt.Sprintf("muc: %d/%d sessions online (%.1f logins/s), %d rooms %s\n", l.OK, o.n, l.SessionsPerS, len(rooms), pattern)
	}

	j, err := joinAll(ctx, o, c, &w, held, rooms)
	r.Occupants, r.JoinS = j.occupants, j.joinS
	if len(rooms) > 1 {
		r.CreateS = j.createS
		summary += fmt.Sprintf("  %d occupants joined %d rooms in %.2fs (creating the rooms: %.2fs)\n", j.occupants, len(rooms), j.joinS, j.createS)
	} else {
		summary += fmt.Sprintf("  %d occupants joined in %.2fs\n", j.occupants, j.joinS)
	}
	if err != nil {
		summary += "  join: " + err.Error() + "\n"
	}
	// Each message goes to a room that has occupants, from one of its
	// first o.senders.
	var active []int
	want := make([]int32, len(rooms))
	for k, occ := range j.byRoom {
		want[k] = int32(len(occ))
		if len(occ) > 0 {
			active = append(active, k)
		}
	}
	if len(active) > 0 {
		r.Senders = min(o.senders, len(j.byRoom[active[0]]))
	}
	if err == nil && len(active) > 0 {
		workers := r.Senders
		if len(rooms) > 1 {
			workers = min(r.Senders*len(active), 64) // as chat: enough to keep the pace
		}
		r.Steps, r.BestRate = ladder(ctx, o, c, func(step int, rate float64) trafficStep {
			var t *tracker
			if len(rooms) > 1 {
				t = newRoomsTracker(capacity(rate, o.duration), rooms, want)
			} else {
				t = newTracker(capacity(rate, o.duration), j.occupants)
			}
			ts[step].Store(t)
			send := func(step, seq int) error {
				k := active[rand.IntN(len(active))]
				occ := j.byRoom[k]
				t.setRoom(seq, k)
				from := occ[rand.IntN(min(o.senders, len(occ)))]
				return from.send(fmt.Sprintf("<message type='groupchat' id='xl%d-%d' to='%s'><body>%s</body></message>", step, seq, escape(rooms[k]), messageBody(step, seq)))
			}
			st := pace(ctx, o, pid, step, t, rate, o.duration, workers, send)
			summary += stepLine("  muc", st)
			return st
		})
	}
	r.Dropped = countDropped(held)
	r.Close = closeAll(c, held, o.concurrency)
	if o.ladder {
		perRoom := float64(j.occupants) / float64(max(len(active), 1))
		summary += fmt.Sprintf("muc ladder: highest rate passing: %.0f msgs/s sent, %.0f copies/s delivered to %d occupants\n", r.BestRate, r.BestRate*perRoom, j.occupants)
	}
	summary += problems(l.Errors, r.Dropped, r.Close)
	failed := err != nil || l.Failed > 0 || r.Dropped > 0 || r.Close.Failed > 0 || len(r.Steps) == 0
	if !o.ladder && len(r.Steps) > 0 && !r.Steps[0].Pass {
		failed = true
	}
	return outcome{result: r, summary: summary, failed: failed}
}

// joined is what joinAll did.
type joined struct {
	byRoom    [][]*session // the occupants of each room, in join order
	occupants int          // in all rooms
	createS   float64      // joining each room's first session
	joinS     float64      // joining everyone, createS included
}

// joinAll joins held session i to room i % len(rooms), nickname "xl" + i:
// first each room's first session (configuring the room as an instant room
// if it created it and the server keeps it locked), then, once every room
// exists, the others; o.concurrency joins at a time. If a room's first join
// fails, nobody else joins.
func joinAll(ctx context.Context, o *options, c *client, w *waiters, held []*session, rooms []string) (joined, error) {
	var j joined
	if len(held) == 0 {
		return j, fmt.Errorf("no session online")
	}
	start := time.Now()
	join := func(i int) error {
		room := rooms[i%len(rooms)]
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
		if i < len(rooms) && hasStatus(el.Child(nsMUCUser, "x"), "201") {
			// A new room: accept the default configuration (XEP-0045 §10.1.2).
			id := "xl-room-config-" + strconv.Itoa(i)
			ch := w.expect("iq " + id)
			if err := held[i].send("<iq type='set' id='" + id + "' to='" + escape(room) + "'><query xmlns='" + nsMUCOwner + "'><x xmlns='jabber:x:data' type='submit'/></query></iq>"); err != nil {
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
	var errs errorCounts
	ok := make([]bool, len(held))
	// joinRange joins sessions [from, to), o.concurrency at a time.
	joinRange := func(from, to int) {
		sem := make(chan struct{}, o.concurrency)
		var wg sync.WaitGroup
		for i := from; i < to; i++ {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := join(i); err != nil {
					errs.add(err)
					return
				}
				ok[i] = true
			})
		}
		wg.Wait()
	}
	first := min(len(rooms), len(held))
	joinRange(0, first)
	j.createS = seconds(time.Since(start))
	if errs.total() == 0 {
		joinRange(first, len(held))
	}
	j.joinS = seconds(time.Since(start))
	j.byRoom = make([][]*session, len(rooms))
	for i, s := range held {
		if ok[i] {
			j.byRoom[i%len(rooms)] = append(j.byRoom[i%len(rooms)], s)
			j.occupants++
		}
	}
	if n := errs.total(); n > 0 {
		var kinds []string
		for e, k := range errs.counts() {
			kinds = append(kinds, fmt.Sprintf("%d× %s", k, e))
		}
		return j, fmt.Errorf("%d joins failed: %s", n, strings.Join(kinds, "; "))
	}
	return j, nil
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
