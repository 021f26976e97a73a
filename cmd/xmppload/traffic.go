package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xmppd/xmlstream"
)

// Message traffic shared by the chat, muc and mam scenarios: a pacer that
// sends numbered messages at a fixed aggregate rate, and a tracker that
// matches what arrives to what was sent. Every body is
// "xmppload STEP SEQ UNIXNANO": the send time travels in the message.

const bodyPrefix = "xmppload "

// messageBody is the body of message seq of step, sent now.
func messageBody(step, seq int) string {
	return bodyPrefix + strconv.Itoa(step) + " " + strconv.Itoa(seq) + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
}

// parseBody returns the step, sequence number and send time of a body the
// tool wrote.
func parseBody(body string) (step, seq int, sent time.Time, ok bool) {
	rest, found := strings.CutPrefix(body, bodyPrefix)
	w := strings.Fields(rest)
	if !found || len(w) != 3 {
		return 0, 0, time.Time{}, false
	}
	step, e1 := strconv.Atoi(w[0])
	seq, e2 := strconv.Atoi(w[1])
	ns, e3 := strconv.ParseInt(w[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil {
		return 0, 0, time.Time{}, false
	}
	return step, seq, time.Unix(0, ns), true
}

// trackers are the trackers of a run's steps, by step number, read by the
// sessions' read goroutines.
type trackers [32]atomic.Pointer[tracker]

// onBody records a message whose body the tool wrote.
func (ts *trackers) onBody(el *xmlstream.Element) {
	step, seq, sent, ok := parseBody(bodyOf(el))
	if !ok || step < 0 || step >= len(ts) {
		return
	}
	t := ts[step].Load()
	switch {
	case t == nil:
	case el.Attr("type") == "error":
		t.bounce()
	default:
		t.received(seq, sent)
	}
}

// tracker counts the copies of each message of one step that arrived.
// Messages may go to several rooms, each expecting its own number of
// copies; latencies are kept by room.
type tracker struct {
	want   []int32 // copies expected per message, by room (1; a room's occupants)
	rooms  []string
	roomOf []atomic.Int32 // each message's room; nil: all go to room 0
	copies []atomic.Int32
	sent   atomic.Int64

	mu        sync.Mutex
	latencies [][]time.Duration // by room
	bounced   int               // type='error' answers
}

// newTracker returns a tracker of messages that each expect want copies.
func newTracker(capacity int, want int) *tracker {
	return &tracker{want: []int32{int32(want)}, copies: make([]atomic.Int32, capacity), latencies: make([][]time.Duration, 1)}
}

// newRoomsTracker returns a tracker of messages to several rooms, by name,
// each expecting want[room] copies. The sender notes each message's room
// with setRoom before sending it.
func newRoomsTracker(capacity int, rooms []string, want []int32) *tracker {
	return &tracker{want: want, rooms: rooms, roomOf: make([]atomic.Int32, capacity),
		copies: make([]atomic.Int32, capacity), latencies: make([][]time.Duration, len(rooms))}
}

// setRoom notes that message seq goes to room k.
func (t *tracker) setRoom(seq, k int) {
	if seq >= 0 && seq < len(t.roomOf) {
		t.roomOf[seq].Store(int32(k))
	}
}

// room returns the room of message seq (0 ≤ seq < capacity).
func (t *tracker) room(seq int) int {
	if t.roomOf == nil {
		return 0
	}
	return int(t.roomOf[seq].Load())
}

// wantOf returns the copies message seq should produce.
func (t *tracker) wantOf(seq int) int32 { return t.want[t.room(seq)] }

// received notes a copy of message seq sent at sent.
func (t *tracker) received(seq int, sent time.Time) {
	if seq < 0 || seq >= len(t.copies) {
		return
	}
	d := time.Since(sent)
	t.copies[seq].Add(1)
	k := t.room(seq)
	t.mu.Lock()
	t.latencies[k] = append(t.latencies[k], d)
	t.mu.Unlock()
}

func (t *tracker) bounce() {
	t.mu.Lock()
	t.bounced++
	t.mu.Unlock()
}

// missing returns how many expected copies have not arrived.
func (t *tracker) missing() int64 {
	var n int64
	for i := range int(t.sent.Load()) {
		n += int64(max(t.wantOf(i)-t.copies[i].Load(), 0))
	}
	return n
}

// roomsReport is the latency of the worst room of a step with several
// rooms: the room whose copies had the highest p99.
type roomsReport struct {
	Rooms    int `json:"rooms"`
	Measured int `json:"measured"` // rooms that got at least one copy
	// WorstRoom had the highest p99, WorstP99MS, over WorstCopies copies.
	WorstRoom   string  `json:"worst_room"`
	WorstP99MS  float64 `json:"worst_p99_ms"`
	WorstCopies int     `json:"worst_room_copies"`
	// MedianP99MS is the median of the rooms' p99s.
	MedianP99MS float64 `json:"median_room_p99_ms"`
}

// roomLatency returns the overall latency and, with several rooms, the
// worst room's. The caller holds t.mu.
func (t *tracker) roomLatency() (latency, *roomsReport) {
	if len(t.latencies) == 1 {
		return summarize(t.latencies[0]), nil
	}
	var all []time.Duration
	var p99s []float64
	rr := &roomsReport{Rooms: len(t.latencies)}
	for k, ds := range t.latencies {
		all = append(all, ds...)
		if len(ds) == 0 {
			continue
		}
		l := summarize(ds)
		p99s = append(p99s, l.P99)
		if rr.WorstRoom == "" || l.P99 > rr.WorstP99MS {
			rr.WorstRoom, rr.WorstP99MS, rr.WorstCopies = t.rooms[k], l.P99, l.Count
		}
	}
	rr.Measured = len(p99s)
	if len(p99s) > 0 {
		slices.Sort(p99s)
		rr.MedianP99MS = p99s[(len(p99s)-1)/2]
	}
	return summarize(all), rr
}

// trafficStep is what one run of the pacer measured.
type trafficStep struct {
	RateTarget float64 `json:"rate_target"` // messages/s offered
	DurationS  float64 `json:"duration_s"`
	Sent       int     `json:"sent"`
	SendFailed int     `json:"send_failed"`
	SentPerS   float64 `json:"sent_per_s"`
	// Expected is Sent × the copies each message should produce.
	Expected      int64   `json:"expected"`
	Delivered     int64   `json:"delivered"`
	DeliveredPerS float64 `json:"delivered_per_s"` // over the send period
	Lost          int64   `json:"lost"`
	LossPct       float64 `json:"loss_pct"`
	Duplicates    int64   `json:"duplicates"`
	Bounced       int     `json:"bounced"`
	LatencyMS     latency `json:"latency_ms"` // send to arrival, every copy
	// Rooms is the worst room's latency when messages went to several.
	Rooms  *roomsReport `json:"rooms,omitempty"`
	DrainS float64      `json:"drain_s"` // after the last send until all arrived (or -drain)
	// CPU time during the step (sending and draining), and the server's per
	// delivered copy.
	ServerCPUS      float64 `json:"server_cpu_s,omitempty"`
	ClientCPUS      float64 `json:"client_cpu_s"`
	ServerUSPerCopy float64 `json:"server_us_per_delivery,omitempty"`
	Pass            bool    `json:"pass"`
	Why             string  `json:"why,omitempty"` // why it did not pass
}

// sendFunc sends message seq of a step; it picks its own session.
type sendFunc func(step, seq int) error

// pace calls send for rate×dur messages spread evenly over dur, from
// workers goroutines, then waits until every copy arrived or drain
// passed. A send blocked by a server that does not read delays the
// following ones: the achieved rate is reported and must be close to the
// target for the step to pass.
func pace(ctx context.Context, o *options, pid int, step int, t *tracker, rate float64, dur time.Duration, workers int, send sendFunc) trafficStep {
	total := int(math.Ceil(rate * dur.Seconds()))
	total = min(total, len(t.copies))
	cpu := cpuMeter(pid)
	jobs := make(chan int, 256)
	var failed errorCounts
	var failedCopies atomic.Int64 // the copies failed sends would have made
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for seq := range jobs {
				if err := send(step, seq); err != nil {
					failed.add(err)
					failedCopies.Add(int64(t.wantOf(seq)))
				}
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	issued := 0
loop:
	for issued < total {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick.C:
			due := min(int(now.Sub(start).Seconds()*rate), total)
			for ; issued < due; issued++ {
				select {
				case jobs <- issued:
				case <-ctx.Done():
					break loop
				}
			}
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	sendTime := time.Since(start)
	// Failed sends are holes in [0, issued): they cannot arrive, and are
	// reported apart from the lost ones.
	t.sent.Store(int64(issued))

	drainStart := time.Now()
	deadline := drainStart.Add(o.drain)
	for t.missing() > failedCopies.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	drain := time.Since(drainStart)
	c := cpu(0)

	r := trafficStep{RateTarget: rate, DurationS: seconds(sendTime), Sent: issued - failed.total(), SendFailed: failed.total(), DrainS: seconds(drain),
		ServerCPUS: c.ServerS, ClientCPUS: c.ClientS}
	r.Expected = -failedCopies.Load()
	for i := range issued {
		n, want := int64(t.copies[i].Load()), int64(t.wantOf(i))
		r.Expected += want
		r.Delivered += min(n, want)
		r.Duplicates += max(n-want, 0)
	}
	r.Lost = r.Expected - r.Delivered
	if r.Expected > 0 {
		r.LossPct = round3(100 * float64(r.Lost) / float64(r.Expected))
	}
	if s := sendTime.Seconds(); s > 0 {
		r.SentPerS = math.Round(float64(r.Sent)/s*10) / 10
		r.DeliveredPerS = math.Round(float64(r.Delivered)/s*10) / 10
	}
	if r.Delivered > 0 && c.ServerS > 0 {
		r.ServerUSPerCopy = math.Round(c.ServerS * 1e6 / float64(r.Delivered))
	}
	t.mu.Lock()
	r.LatencyMS, r.Rooms = t.roomLatency()
	r.Bounced = t.bounced
	t.mu.Unlock()
	var why []string
	if r.SendFailed > 0 {
		why = append(why, fmt.Sprintf("%d sends failed", r.SendFailed))
	}
	if r.SentPerS < 0.98*rate {
		why = append(why, fmt.Sprintf("sent only %.0f/s", r.SentPerS))
	}
	if r.LossPct >= o.maxLossPct {
		why = append(why, fmt.Sprintf("loss %.2f%%", r.LossPct))
	}
	if r.LatencyMS.P99 >= float64(o.maxP99.Milliseconds()) {
		why = append(why, fmt.Sprintf("p99 %.0f ms", r.LatencyMS.P99))
	}
	if r.Rooms != nil && r.Rooms.WorstP99MS >= float64(o.roomP99().Milliseconds()) {
		why = append(why, fmt.Sprintf("worst room p99 %.0f ms", r.Rooms.WorstP99MS))
	}
	if ctx.Err() != nil {
		why = append(why, "cut short: "+context.Cause(ctx).Error())
	}
	r.Why = strings.Join(why, ", ")
	r.Pass = len(why) == 0
	return r
}

// stepLine describes a step for the summary.
func stepLine(name string, r trafficStep) string {
	verdict := "pass"
	if !r.Pass {
		verdict = "FAIL (" + r.Why + ")"
	}
	line := fmt.Sprintf("%s %.0f/s for %.1fs: sent %d (%.0f/s), delivered %d/%d (%.0f/s), loss %.2f%%, latency ms p50 %.1f p99 %.1f max %.1f, server %.0f µs/delivery: %s\n",
		name, r.RateTarget, r.DurationS, r.Sent, r.SentPerS, r.Delivered, r.Expected, r.DeliveredPerS, r.LossPct,
		r.LatencyMS.P50, r.LatencyMS.P99, r.LatencyMS.Max, r.ServerUSPerCopy, verdict)
	if rr := r.Rooms; rr != nil {
		line += fmt.Sprintf("%s  worst room p99 %.1f ms (%s, %d copies), median room p99 %.1f ms, %d/%d rooms got messages\n",
			name, rr.WorstP99MS, rr.WorstRoom, rr.WorstCopies, rr.MedianP99MS, rr.Measured, rr.Rooms)
	}
	return line
}

// ladder runs steps at rising rates from o.rate (×2 while they pass, then
// bisecting between the best pass and the lowest fail; halving while
// nothing has passed) for at most o.ladderSteps steps, and returns them
// with the highest rate that passed (0: none). Without -ladder it runs one
// step at o.rate.
func ladder(ctx context.Context, o *options, c *client, run func(step int, rate float64) trafficStep) ([]trafficStep, float64) {
	var steps []trafficStep
	best, worst := 0.0, math.Inf(1)
	rate := o.rate
	for i := range o.ladderSteps {
		r := run(i, rate)
		steps = append(steps, r)
		if !o.ladder || ctx.Err() != nil {
			if r.Pass {
				best = rate
			}
			break
		}
		if r.Pass {
			best = max(best, rate)
		} else {
			worst = min(worst, rate)
		}
		switch {
		case math.IsInf(worst, 1):
			rate *= 2
		case best == 0:
			rate /= 2
		default:
			rate = math.Round((best + worst) / 2)
		}
		if best > 0 && (worst-best)/best < 0.1 || rate < 1 {
			break
		}
		quiesce(ctx, c)

	}
	return steps, best
}

// quiesce waits until the sessions have read nothing for a second (at
// most a minute), so that an overloaded step's backlog does not spill into
// the next one.
func quiesce(ctx context.Context, c *client) {
	for end := time.Now().Add(time.Minute); time.Now().Before(end) && ctx.Err() == nil; {
		idle := time.Since(time.Unix(0, c.lastRead.Load()))
		if idle >= time.Second {
			return
		}
		time.Sleep(time.Second - idle)
	}
}

// waiters hands stanzas read by held sessions to goroutines waiting for
// them, by key.
type waiters struct {
	mu sync.Mutex
	m  map[string]chan *xmlstream.Element
}

// expect registers key; the channel gets the first stanza delivered under
// it.
func (w *waiters) expect(key string) chan *xmlstream.Element {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]chan *xmlstream.Element{}
	}
	ch := make(chan *xmlstream.Element, 1)
	w.m[key] = ch
	return ch
}

// deliver passes el to whoever waits for key, and reports whether someone
// did.
func (w *waiters) deliver(key string, el *xmlstream.Element) bool {
	w.mu.Lock()
	ch := w.m[key]
	delete(w.m, key)
	w.mu.Unlock()
	if ch != nil {
		ch <- el
	}
	return ch != nil
}

// wait waits for ch within the client timeout.
func wait(ctx context.Context, c *client, ch chan *xmlstream.Element, what string) (*xmlstream.Element, error) {
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case el := <-ch:
		return el, nil
	case <-t.C:
		return nil, fmt.Errorf("%s: timeout", what)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
}

// pick returns a random index in [0, n) other than not (n > 1).
func pick(n, not int) int {
	i := rand.IntN(n - 1)
	if i >= not {
		i++
	}
	return i
}

// escape escapes s for XML text and attribute values.
func escape(s string) string { return string(xmlstream.AppendEscaped(nil, s)) }

// bodyOf returns the text of el's body, or "".
func bodyOf(el *xmlstream.Element) string {
	if b := el.Child("jabber:client", "body"); b != nil {
		return b.Text()
	}
	return ""
}
