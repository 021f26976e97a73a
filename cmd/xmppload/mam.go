package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"xmppd/xmlstream"
)

// Message archive (XEP-0313) and result set (XEP-0059) namespaces.
const (
	nsMAM = "urn:xmpp:mam:2"
	nsRSM = "http://jabber.org/protocol/rsm"
)

// mamResult is the JSON result of the mam scenario.
type mamResult struct {
	ServerPID int         `json:"server_pid,omitempty"`
	Logins    loginReport `json:"logins"`
	// Fill: each session sent -fill messages to the next one (a ring).
	Fill trafficStep `json:"fill"`
	// Pages: each session read its archive since the fill began, -page
	// messages a page, one page after the other; the sessions in parallel.
	Pages       int            `json:"pages"`
	PagesMS     latency        `json:"pages_ms"` // request to <fin/>
	Messages    int64          `json:"messages"` // archived messages received
	Expected    int            `json:"expected"` // 2 × fill × sessions
	Complete    int            `json:"complete"` // sessions that reached complete='true'
	QueryErrors map[string]int `json:"query_errors,omitempty"`
	PagingS     float64        `json:"paging_s"`
	Dropped     int            `json:"dropped"`
	Close       closeReport    `json:"close"`
}

// runMAM logs in o.n sessions, has each send o.fill chat messages to the
// next one (o.rate messages/s in total), then has each page through its
// archive from the start of the fill with RSM pages of o.page, at most
// o.pages pages, and measures each page.
func runMAM(ctx context.Context, o *options, c *client) outcome {
	if o.n < 2 {
		return outcome{err: fmt.Errorf("mam needs -n of at least 2")}
	}
	var ts trackers
	var w waiters
	var archived atomic.Int64
	c.onStanza = func(_ *session, el *xmlstream.Element) {
		switch {
		case el.Name.Local == "message" && el.Child(nsMAM, "result") != nil:
			archived.Add(1)
		case el.Name.Local == "message":
			ts.onBody(el)
		case el.Name.Local == "iq":
			w.deliver("iq "+el.Attr("id"), el)
		}
	}
	pid := serverPID(o)
	held, l := loginAll(ctx, c, o, o.n, o.concurrency, "xmppload-")
	r := mamResult{ServerPID: pid, Logins: l}
	summary := fmt.Sprintf("mam: %d/%d sessions online (%.1f logins/s)\n", l.OK, o.n, l.SessionsPerS)
	if len(held) < 2 {
		r.Close = closeAll(c, held, o.concurrency)
		return outcome{result: r, summary: summary + problems(l.Errors, 0, r.Close), failed: true}
	}

	// Archives keep seconds at least: start one second early, and wait
	// one so that the fill is not in the same second as earlier runs.
	time.Sleep(time.Second)
	since := time.Now().Add(-time.Second).UTC().Truncate(time.Second)
	total := o.fill * len(held)
	t := newTracker(total+1, 1)
	ts[0].Store(t)
	send := func(step, seq int) error {
		from := seq % len(held)
		to := held[(from+1)%len(held)]
		return held[from].send(fmt.Sprintf("<message type='chat' id='xl%d-%d' to='%s'><body>%s</body></message>", step, seq, escape(to.jid), messageBody(step, seq)))
	}
	r.Fill = pace(ctx, o, pid, 0, t, o.rate, time.Duration(float64(total)/o.rate*float64(time.Second)), min(len(held), 64), send)
	summary += stepLine("  fill", r.Fill)
	r.Expected = 2 * total

	var mu sync.Mutex
	var pages []time.Duration
	var errs errorCounts
	start := time.Now()
	var wg sync.WaitGroup
	for i, s := range held {
		wg.Go(func() {
			after := ""
			for p := range o.pages {
				id := "xl-mam-" + strconv.Itoa(i) + "-" + strconv.Itoa(p)
				ch := w.expect("iq " + id)
				rsm := "<max>" + strconv.Itoa(o.page) + "</max>"
				if after != "" {
					rsm += "<after>" + escape(after) + "</after>"
				}
				t0 := time.Now()
				err := s.send("<iq type='set' id='" + id + "'><query xmlns='" + nsMAM + "' queryid='" + id + "'>" +
					"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + nsMAM + "</value></field>" +
					"<field var='start'><value>" + since.Format(time.RFC3339) + "</value></field></x>" +
					"<set xmlns='" + nsRSM + "'>" + rsm + "</set></query></iq>")
				var el *xmlstream.Element
				if err == nil {
					el, err = wait(ctx, c, ch, "mam page")
				}
				if err == nil && el.Attr("type") != "result" {
					err = fmt.Errorf("mam query: %s", condition(el.Child("", "error")))
				}
				if err != nil {
					errs.add(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				pages = append(pages, d)
				mu.Unlock()
				fin := el.Child(nsMAM, "fin")
				if fin == nil {
					errs.add(fmt.Errorf("mam result without <fin/>"))
					return
				}
				if fin.Attr("complete") == "true" {
					mu.Lock()
					r.Complete++
					mu.Unlock()
					return
				}
				last := fin.Child(nsRSM, "set")
				if last != nil {
					last = last.Child(nsRSM, "last")
				}
				if last == nil || last.Text() == "" {
					return
				}
				after = last.Text()
			}
		})
	}
	wg.Wait()
	r.PagingS = seconds(time.Since(start))
	r.Pages, r.PagesMS, r.Messages, r.QueryErrors = len(pages), summarize(pages), archived.Load(), errs.counts()
	summary += fmt.Sprintf("  paging: %d pages of %d in %.2fs, page ms p50 %.1f p99 %.1f max %.1f; %d archived messages received (expected %d), %d/%d sessions reached the end\n",
		r.Pages, o.page, r.PagingS, r.PagesMS.P50, r.PagesMS.P99, r.PagesMS.Max, r.Messages, r.Expected, r.Complete, len(held))
	for e, n := range r.QueryErrors {
		summary += fmt.Sprintf("  query failed %d×: %s\n", n, e)
	}
	r.Dropped = countDropped(held)
	r.Close = closeAll(c, held, o.concurrency)
	summary += problems(l.Errors, r.Dropped, r.Close)
	failed := l.Failed > 0 || r.Dropped > 0 || r.Close.Failed > 0 || errs.total() > 0 || r.Fill.Lost > 0
	return outcome{result: r, summary: summary, failed: failed}
}
