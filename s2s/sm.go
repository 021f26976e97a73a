package s2s

import (
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Stream management on server streams (XEP-0198), acknowledgements only:
// there is no resumption between servers.
//
// On a stream we open, once authenticated, we enable it when the peer
// offers it. Our stanzas then count as sent only once the peer
// acknowledges them: a kept message stays in the outbox until then, and
// what was written but not acknowledged when the stream broke goes once
// more over a new stream (acks).
//
// On a stream a peer opens we offer it, and acknowledge the peer's
// stanzas once routed. Both sides count the stanzas of a bidirectional
// stream (XEP-0288) too: our stanzas over the peer's stream are tracked
// by the stream (viaSent), since several of our streams may share it.

// nsSM is the namespace of stream management.
const nsSM = "urn:xmpp:sm:3"

// smAnswer is <a h/>: h of the peer's stanzas were handled.
func smAnswer(h uint32) *xmlstream.Element {
	return xmlstream.NewElement(nsSM, "a", "h", strconv.FormatUint(uint64(h), 10))
}

// smFailed is <failed/> with a stanza error condition.
func smFailed(condition string) *xmlstream.Element {
	return xmlstream.NewElement(nsSM, "failed").AddChild(xmlstream.NewElement(stanza.NSStanzas, condition))
}

// offersSM reports whether features offer stream management.
func offersSM(features *xmlstream.Element) bool {
	return features != nil && features.Child(nsSM, "sm") != nil
}

// inbound counts the peer's stanzas once it enabled stream management:
// the h of our answers to its <r/>. The stream's reader counts; whoever
// ends the stream sends the last count (final).
type inbound struct {
	on      atomic.Bool
	handled atomic.Uint32
}

// count counts one of the peer's stanzas, routed.
func (n *inbound) count() {
	if n.on.Load() {
		n.handled.Add(1)
	}
}

// answer answers the peer's <r/>; asking before stream management is on
// is a stream error.
func (n *inbound) answer(c *conn) error {
	if !n.on.Load() {
		return streamErr("unsupported-stanza-type", "<r/> before stream management was enabled")
	}
	if c.isEnded() {
		// Nothing goes after our end, which carried our last count
		// (final); the peer's stanzas are still read until its own.
		return nil
	}
	return c.writeElements(smAnswer(n.handled.Load()))
}

// final returns the <a/> to send before closing the stream (XEP-0198
// §7), so that the peer knows its last stanzas arrived; nil when stream
// management is off.
func (n *inbound) final() []byte {
	if !n.on.Load() {
		return nil
	}
	return smAnswer(n.handled.Load()).Append(nil, "")
}

// reset turns counting off, for a restarted stream.
func (n *inbound) reset() {
	n.on.Store(false)
	n.handled.Store(0)
}

// manage handles a stream management element on a stream a peer opened:
// <enable/> once a domain is authenticated, <r/>, and <a/>, which
// acknowledges what we sent over the stream when the peer made it
// bidirectional.
func (in *inStream) manage(el *xmlstream.Element) error {
	switch el.Name.Local {
	case "enable":
		in.mu.Lock()
		authenticated := len(in.verified) > 0
		in.mu.Unlock()
		if !authenticated || in.c.received.on.Load() {
			// XEP-0198 §3: not before authentication, and once.
			return in.c.writeElements(smFailed("unexpected-request"))
		}
		return in.c.enableSM()
	case "r":
		return in.c.received.answer(in.c)
	case "a":
		if !in.c.received.on.Load() {
			return streamErr("unsupported-stanza-type", "<a/> before stream management was enabled")
		}
		h, err := parseH(el)
		if err != nil {
			return errBadH
		}
		done, err := in.c.ackVia(h)
		in.s.forget(done)
		return err
	case "resume":
		return in.c.writeElements(smFailed("unexpected-request"))
	}
	return streamErr("unsupported-stanza-type", "unexpected element {"+nsSM+"}"+el.Name.Local)
}

// parseH returns the h of <a/> or <failed/>.
func parseH(el *xmlstream.Element) (uint32, error) {
	h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	return uint32(h), err
}

// inbox passes the peer's stream management elements from an outgoing
// stream's reader to its run loop without ever making the reader wait,
// which could leave both servers blocked writing: it holds the answer to
// <enable/> and the latest <a/>, which acknowledges all an earlier one
// did.
type inbox struct {
	mu          sync.Mutex
	answer, ack *xmlstream.Element
	ready       chan struct{} // holds a signal while something waits
}

func newInbox() *inbox { return &inbox{ready: make(chan struct{}, 1)} }

// put leaves el for the run loop.
func (b *inbox) put(el *xmlstream.Element) {
	b.mu.Lock()
	if el.Name.Local == "a" {
		b.ack = el
	} else if b.answer == nil {
		b.answer = el
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take returns what waits, in the order to handle it.
func (b *inbox) take() []*xmlstream.Element {
	b.mu.Lock()
	defer b.mu.Unlock()
	var els []*xmlstream.Element
	for _, el := range []*xmlstream.Element{b.answer, b.ack} {
		if el != nil {
			els = append(els, el)
		}
	}
	b.answer, b.ack = nil, nil
	return els
}

// ledger is what a peer acknowledges of the stanzas written on one
// stream, T saying what each is.
type ledger[T any] struct {
	acked   uint32 // the peer's last h
	unacked []T    // written, not acknowledged, oldest first
	// requested is true while an <r/> waits for its answer; asked is the
	// count of stanzas written (sent) when it went out.
	requested bool
	asked     uint32
}

// sent is the count of stanzas written, modulo 2^32.
func (l *ledger[T]) sent() uint32 { return l.acked + uint32(len(l.unacked)) }

// ack takes the peer's <a h/> and returns the stanzas it acknowledges.
func (l *ledger[T]) ack(h uint32) ([]T, error) {
	n := h - l.acked // wraps around as the count does
	if n > uint32(len(l.unacked)) {
		return nil, errHTooHigh
	}
	done := slices.Clone(l.unacked[:n])
	clear(l.unacked[:n])
	l.unacked, l.acked, l.requested = l.unacked[n:], h, false
	return done, nil
}

// request reports whether to ask for an acknowledgement, and records it
// as asked: when none is asked for, and stanzas were written since the
// last request. A peer that answers without acknowledging everything is
// not asked again for the same stanzas.
func (l *ledger[T]) request() bool {
	if l.requested || len(l.unacked) == 0 || l.sent() == l.asked {
		return false
	}
	l.requested, l.asked = true, l.sent()
	return true
}

// smRequest is <r/>.
var smRequest = []byte("<r xmlns='" + nsSM + "'/>")

// acks is an outgoing stream's stream management state; only its run
// loop uses it.
type acks struct {
	ledger[queued]
	on      bool // enabled by the peer
	waiting bool // <enable/> sent, no answer yet: no stanza goes out
	// timer ends a stream whose peer does not answer <enable/>, or
	// acknowledges nothing more for timeout while stanzas wait for it;
	// timing is true while it runs.
	timer   *time.Timer
	timeout time.Duration
	timing  bool
}

// maxUnacked bounds the stanzas written and not yet acknowledged on one
// stream: a peer that lets more wait loses the stream, and they go again
// over a new one.
const maxUnacked = 5000

var (
	errBehind   = streamErr("resource-constraint", "too many stanzas wait for an acknowledgement")
	errHTooHigh = streamErr("undefined-condition", "the acknowledged count is higher than the number of stanzas sent")
	errBadH     = streamErr("invalid-xml", "<a/> needs a numeric h")
)

// enable asks the peer to turn stream management on, if c's features
// offer it; stanzas wait for the answer.
func (o *outStream) enable(c *conn, a *acks) error {
	a.timeout = o.s.cfg.ConnectTimeout
	a.timer = time.NewTimer(a.timeout)
	a.timer.Stop()
	if o.via != nil || !offersSM(c.features) {
		return nil
	}
	a.waiting = true
	a.arm(true)
	c.enabling.Store(true)
	return c.writeElements(xmlstream.NewElement(nsSM, "enable"))
}

// arm starts the timer afresh, or stops it.
func (a *acks) arm(on bool) {
	if on {
		a.timer.Reset(a.timeout)
	} else {
		a.timer.Stop()
	}
	a.timing = on
}

// written records batch as written on c: with stream management on, it
// waits for the peer's acknowledgement, which is asked for unless asked
// already; without, it is sent, and out of the outbox.
func (o *outStream) written(c *conn, a *acks, batch []queued) error {
	if !a.on {
		o.s.forget(batch)
		return nil
	}
	a.unacked = append(a.unacked, batch...)
	if len(a.unacked) > maxUnacked {
		return errBehind
	}
	if !a.timing {
		a.arm(true)
	}
	return o.request(c, a)
}

// request asks the peer for an acknowledgement of what was written since
// the last request, unless one is asked for.
func (o *outStream) request(c *conn, a *acks) error {
	if !a.request() {
		return nil
	}
	return c.write(smRequest)
}

// takeInbox handles what the reader left in the inbox; with ask, it asks
// for an acknowledgement of what was written since the last <r/>.
func (o *outStream) takeInbox(c *conn, a *acks, ask bool) error {
	for _, el := range o.sm.take() {
		if err := o.managed(a, el); err != nil {
			return err
		}
	}
	if ask {
		return o.request(c, a)
	}
	return nil
}

// managed handles the peer's stream management element: the answer to
// <enable/>, or <a/>, which takes the acknowledged stanzas out of the
// outbox.
func (o *outStream) managed(a *acks, el *xmlstream.Element) error {
	switch {
	case el.Name.Local == "enabled" && a.waiting:
		a.waiting, a.on = false, true
		a.arm(false)
		o.s.log.Debug("s2s stream management enabled", "local", o.p.local, "remote", o.p.remote)
	case el.Name.Local == "failed" && a.waiting:
		a.waiting = false
		a.arm(false)
		o.s.log.Info("s2s stream management refused", "local", o.p.local, "remote", o.p.remote, "condition", describeError(el))
	case el.Name.Local == "a" && a.on:
		h, err := parseH(el)
		if err != nil {
			return errBadH
		}
		done, err := a.ack(h)
		if err != nil {
			return err
		}
		o.s.forget(done)
		if len(done) > 0 || len(a.unacked) == 0 {
			// Progress: what still waits gets the whole timeout again.
			a.arm(len(a.unacked) > 0)
		}
	}
	return nil
}

// viaSent tracks our stanzas on a peer's bidirectional stream (XEP-0288)
// on which the peer enabled stream management, until it acknowledges
// them: several of our outgoing streams may write there, so the count is
// the stream's, not theirs. Guarded by the conn's wmu.
type viaSent struct {
	ledger[sentBy]
	on bool // counting, from our <enabled/> on
	// old is what the peer did not acknowledge on earlier streams over
	// the connection: it goes again when the connection ends.
	old []sentBy
	// taken is true once an outStream took its stanzas as the connection
	// breaks: nothing more is written on it.
	taken bool
}

// restart ends the count with the stream it counted, keeping what was
// not acknowledged to go again.
func (v *viaSent) restart() {
	v.old = append(v.old, v.unacked...)
	v.ledger, v.on = ledger[sentBy]{}, false
}

// sentBy is a stanza written on a peer's stream, and whose it is.
type sentBy struct {
	o *outStream
	q queued
}

// enableSM turns stream management on for the peer's stream c: our
// answer, and counting both ways from it on.
func (c *conn) enableSM() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writeLocked(xmlstream.NewElement(nsSM, "enabled").Append(nil, "")); err != nil {
		return err
	}
	c.received.on.Store(true)
	c.via.on = true
	return nil
}

// writeVia writes o's batch on the peer's stream c, with a request for
// an acknowledgement unless one is asked for; tracked is true when the
// peer will acknowledge it.
func (c *conn) writeVia(o *outStream, batch []queued) (tracked bool, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	v := &c.via
	if v.taken {
		return false, net.ErrClosed
	}
	if len(v.unacked)+len(batch) > maxUnacked {
		return false, errBehind
	}
	ask := v.on && !v.requested
	b := encode(nil, stanzas(batch)...)
	if ask {
		b = append(b, smRequest...)
	}
	if err := c.writeLocked(b); err != nil {
		return false, err
	}
	if !v.on {
		return false, nil
	}
	for _, q := range batch {
		v.unacked = append(v.unacked, sentBy{o, q})
	}
	if ask {
		v.request() // records what it asked for
	}
	return true, nil
}

// ackVia takes the peer's <a h/> on its stream c, and returns the
// stanzas it acknowledges; what was written since the last request is
// asked for.
func (c *conn) ackVia(h uint32) ([]queued, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	v := &c.via
	if !v.on {
		return nil, nil
	}
	acked, err := v.ack(h)
	if err != nil {
		return nil, err
	}
	done := make([]queued, len(acked))
	for i, s := range acked {
		done[i] = s.q
	}
	if v.request() {
		return done, c.writeLocked(smRequest)
	}
	return done, nil
}

// takeVia returns o's stanzas the peer did not acknowledge on its stream
// c, which ended: they go again. The count no longer matches the peer's.
func (c *conn) takeVia(o *outStream) []queued {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.via.on, c.via.taken = false, true
	return c.via.of(o)
}

// viaPending reports whether o's stanzas wait for the peer's
// acknowledgement on c.
func (c *conn) viaPending(o *outStream) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.via.of(o)) > 0
}

// of returns o's stanzas not acknowledged, of earlier streams over the
// connection first.
func (v *viaSent) of(o *outStream) []queued {
	var qs []queued
	for _, sent := range [][]sentBy{v.old, v.unacked} {
		for _, s := range sent {
			if s.o == o {
				qs = append(qs, s.q)
			}
		}
	}
	return qs
}
