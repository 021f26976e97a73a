package c2s

import (
	"errors"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NSSM is the namespace of stream management (XEP-0198).
const NSSM = "urn:xmpp:sm:3"

// smState is a session's stream management (XEP-0198) state, guarded by
// Session.mu except received.
type smState struct {
	enabled bool
	id      string        // resumption id; "" when not resumable
	max     time.Duration // how long a detached session waits

	// received counts the client's stanzas; only the reader of the
	// attached connection touches it (resumption waits for the old one).
	// epoch changes when a resumption sets it back to handled.
	received uint32
	epoch    uint32
	// handled counts the client's stanzas that are safe (receipt.go): the
	// h the server acknowledges. ahead holds safe stanzas after the first
	// one that is not.
	handled uint32
	ahead   map[uint32]struct{}
	// owed: the client asked (<r/>) when received was owedUntil, and was
	// answered with less; <a/> is sent again when handled reaches it.
	owed      bool
	owedUntil uint32

	acked        uint32    // the client's last h: our stanzas it handled
	unacked      []outItem // counted stanzas written, not acknowledged
	sinceRequest int       // counted stanzas queued since the last <r/>
	requested    bool      // an <r/> is outstanding

	gen         uint64      // changes on every attach and detach; stale timers do nothing
	delayTimer  *time.Timer // asks for an ack when data waits for AckDelay
	ackTimer    *time.Timer // dead connection: no <a/> within AckTimeout
	detachTimer *time.Timer // resumption timeout
}

var (
	errGone      = errors.New("the session ended")
	smFeature    = xmlstream.NewElement(NSSM, "sm")
	requestFrame = []byte("<r xmlns='" + NSSM + "'/>")
)

// handledCountTooHigh is the stream error for a client whose h, in <a/>
// or <resume/>, acknowledges more stanzas than the sent ones the server
// counted (XEP-0198 §4).
func handledCountTooHigh(h, sent uint32) error {
	hs, ss := strconv.FormatUint(uint64(h), 10), strconv.FormatUint(uint64(sent), 10)
	return &appStreamError{
		streamError{"undefined-condition", "the acknowledged count " + hs + " is higher than the number of stanzas sent, " + ss},
		xmlstream.NewElement(NSSM, "handled-count-too-high", "h", hs, "send-count", ss),
	}
}

// newlyAckedLocked returns how many of the unacknowledged stanzas the
// client's h acknowledges, or the stream error for an h higher than the
// count of stanzas the server sent. Counts wrap around to 0 after 2^32-1
// (XEP-0198 §4), so h is compared with the count the client acknowledged
// before modulo 2^32: less than 2^31 ahead of it is ahead, the rest
// behind. An h behind acknowledges none (as ejabberd does): the stanzas
// it acknowledged then are forgotten and cannot be sent again.
func (s *Session) newlyAckedLocked(h uint32) (uint32, error) {
	// uint32 arithmetic: wraps around like the counters.
	n, sent := h-s.sm.acked, s.sm.acked+uint32(len(s.sm.unacked))
	switch {
	case n <= uint32(len(s.sm.unacked)):
		return n, nil
	case int32(n) < 0:
		s.srv.log.Info("c2s client acknowledged fewer stanzas than before; ignored", "jid", s.jid.String(), "h", h, "acked", s.sm.acked)
		return 0, nil
	}
	return 0, handledCountTooHigh(h, sent)
}

// smFailed serialises smFailedElement.
func smFailed(condition string, h uint32, hKnown bool) []byte {
	return smFailedElement(condition, h, hKnown).Append(nil, "")
}

// smFailedElement is <failed/> with a stanza error condition, and h when
// hKnown.
func smFailedElement(condition string, h uint32, hKnown bool) *xmlstream.Element {
	f := xmlstream.NewElement(NSSM, "failed")
	if hKnown {
		f.SetAttr("h", strconv.FormatUint(uint64(h), 10))
	}
	return f.AddChild(xmlstream.NewElement(stanza.NSStanzas, condition))
}

func smAck(h uint32) []byte {
	return []byte("<a xmlns='" + NSSM + "' h='" + strconv.FormatUint(uint64(h), 10) + "'/>")
}

func parseH(el *xmlstream.Element) (uint32, bool) {
	h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	return uint32(h), err == nil
}

// handleSM handles a stream management nonza on a bound session.
func (s *Session) handleSM(t Transport, el *xmlstream.Element) error {
	switch el.Name.Local {
	case "r":
		s.mu.Lock()
		h := s.sm.handled
		if h != s.sm.received {
			s.sm.owed, s.sm.owedUntil = true, s.sm.received
		}
		s.mu.Unlock()
		s.pushNonza(smAck(h))
	case "a":
		h, ok := parseH(el)
		if !ok {
			return &streamError{"invalid-xml", "<a/> needs a numeric h"}
		}
		return s.acknowledged(h)
	case "enable":
		s.enable(el.Attr("resume") == "true" || el.Attr("resume") == "1", el.Attr("max"))
	case "resume":
		s.pushNonza(smFailed("unexpected-request", 0, false))
	default:
		return &streamError{"unsupported-stanza-type", "unexpected element {" + NSSM + "}" + el.Name.Local}
	}
	return nil
}

// enable turns stream management on, resumable if asked and configured,
// and queues <enabled/>, or <failed/> when it is on already.
func (s *Session) enable(resume bool, max string) {
	s.mu.Lock()
	enabled, id := s.startSMLocked(resume, max)
	if enabled == nil {
		s.mu.Unlock()
		s.pushNonza(smFailed("unexpected-request", 0, false))
		return
	}
	// Queued under the lock that turned counting on: no stanza counted
	// by the server reaches the client before <enabled/>.
	s.queue = append(s.queue, outItem{frame: enabled.Append(nil, "")})
	start := s.startWriterLocked()
	s.mu.Unlock()
	if id != "" {
		s.srv.remember(id, s)
	}
	if start {
		go s.flush()
	}
}

// startSMLocked turns stream management on, resumable if asked and
// configured, and returns <enabled/> and the resumption id ("" when not
// resumable); the caller makes the session resumable under it once
// unlocked. It returns nil when stream management is on already or the
// session is closing.
func (s *Session) startSMLocked(resume bool, max string) (*xmlstream.Element, string) {
	cfg := s.srv.cfg
	if s.sm.enabled || s.closing {
		return nil, ""
	}
	s.sm.enabled = true
	enabled := xmlstream.NewElement(NSSM, "enabled")
	if resume && cfg.ResumeTimeout > 0 {
		s.sm.id = stanza.NewID() + stanza.NewID()
		if cfg.Elsewhere != nil {
			s.sm.id = cfg.Elsewhere.ResumePrefix() + s.sm.id
		}
		s.sm.max = cfg.ResumeTimeout
		if secs, err := strconv.Atoi(max); err == nil && secs > 0 && secs < int(s.sm.max/time.Second) {
			s.sm.max = time.Duration(secs) * time.Second
		}
		enabled.SetAttr("id", s.sm.id)
		enabled.SetAttr("resume", "true")
		enabled.SetAttr("max", strconv.Itoa(int(s.sm.max/time.Second)))
	}
	return enabled, s.sm.id
}

// acknowledged handles the client's <a h/>: the client has handled h of
// our stanzas since stream management was enabled, counted modulo 2^32.
func (s *Session) acknowledged(h uint32) error {
	s.mu.Lock()
	if !s.sm.enabled || s.closing {
		// Ending, the session took what was unacknowledged to route it
		// again: a late <a/> must not cut off its stream error.
		s.mu.Unlock()
		return nil
	}
	n, err := s.newlyAckedLocked(h)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	safe := s.trimLocked(n)
	defer doneAll(safe) // after unlocking: it locks the senders
	defer s.mu.Unlock()
	if len(s.sm.unacked) == 0 && !s.countedQueuedLocked() {
		s.sm.sinceRequest = 0
	}
	s.sm.requested = false
	if s.sm.ackTimer != nil {
		s.sm.ackTimer.Stop()
	}
	if s.sm.sinceRequest > 0 {
		s.armDelayLocked()
	}
	return nil
}

// trimLocked forgets the n oldest unacknowledged stanzas, counting them
// as acknowledged, and returns their receipts, to release once s.mu is
// unlocked.
func (s *Session) trimLocked(n uint32) []*receipt {
	var safe []*receipt
	for _, it := range s.sm.unacked[:n] {
		if it.receipt != nil {
			safe = append(safe, it.receipt)
		}
	}
	clear(s.sm.unacked[:n])
	s.sm.unacked = s.sm.unacked[n:]
	if len(s.sm.unacked) == 0 {
		s.sm.unacked = nil // let the backing array go
	}
	s.sm.acked += n
	return safe
}

func doneAll(rcs []*receipt) {
	for _, rc := range rcs {
		rc.done()
	}
}

// smQueuedLocked is called for each counted stanza queued: the server asks
// for an acknowledgement after AckEvery stanzas, or once data has waited
// for AckDelay, and never has more than one request outstanding.
func (s *Session) smQueuedLocked() {
	s.sm.sinceRequest++
	if s.sm.requested || s.t == nil {
		return
	}
	if s.sm.sinceRequest >= s.srv.cfg.AckEvery {
		s.requestLocked()
		return
	}
	s.armDelayLocked()
}

func (s *Session) armDelayLocked() {
	if s.sm.delayTimer != nil {
		s.sm.delayTimer.Reset(s.srv.cfg.AckDelay)
		return
	}
	s.sm.delayTimer = time.AfterFunc(s.srv.cfg.AckDelay, s.delayExpired)
}

func (s *Session) delayExpired() {
	s.mu.Lock()
	if s.closing || s.t == nil || s.sm.requested || s.sm.sinceRequest == 0 {
		s.mu.Unlock()
		return
	}
	s.requestLocked()
	start := s.startWriterLocked()
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// requestLocked queues <r/> and starts the dead connection timer.
func (s *Session) requestLocked() {
	s.queue = append(s.queue, outItem{frame: requestFrame})
	s.sm.requested, s.sm.sinceRequest = true, 0
	gen := s.sm.gen
	if s.sm.ackTimer != nil {
		s.sm.ackTimer.Stop()
	}
	s.sm.ackTimer = time.AfterFunc(s.srv.cfg.AckTimeout, func() { s.ackTimedOut(gen) })
}

// ackTimedOut closes a connection that did not answer <r/>: the reader
// then sees it fail and the session waits for resumption or ends.
func (s *Session) ackTimedOut(gen uint64) {
	s.mu.Lock()
	t := s.t
	dead := s.sm.gen == gen && s.sm.requested && t != nil && !s.closing
	s.mu.Unlock()
	if dead {
		s.srv.log.Info("c2s connection does not acknowledge; closing it", "jid", s.jid.String())
		t.Close()
	}
}

func (s *Session) stopTimersLocked() {
	for _, tm := range []*time.Timer{s.sm.delayTimer, s.sm.ackTimer, s.sm.detachTimer} {
		if tm != nil {
			tm.Stop()
		}
	}
}

// detach lets a resumable session outlive its lost connection t: it stays
// bound, keeps queuing, and ends when not resumed within its timeout.
func (s *Session) detach(t Transport) {
	s.mu.Lock()
	if s.t != t || s.closing {
		s.mu.Unlock()
		return
	}
	s.t = nil
	s.sm.gen++
	s.stopTimersLocked()
	s.sm.requested = false
	// Nonzas for the lost connection are stale; stanzas wait.
	kept := s.queue[:0]
	for _, it := range s.queue {
		if it.el != nil {
			kept = append(kept, it)
		}
	}
	s.queue = kept
	gen := s.sm.gen
	s.sm.detachTimer = time.AfterFunc(s.sm.max, func() { s.expire(gen) })
	var held []*xmlstream.Element
	for _, items := range [][]outItem{s.sm.unacked, s.queue, s.csi.held} {
		for _, it := range items {
			if it.el.Name.Local == stanza.Message {
				held = append(held, it.el)
			}
		}
	}
	// Told under the lock, as in Deliver: a resumption that re-sends
	// them is told after.
	if len(held) > 0 && s.srv.cfg.Waiting != nil {
		s.srv.cfg.Waiting(s.jid, held)
	}
	s.mu.Unlock()
	t.Close()
	s.srv.log.Info("c2s connection lost; session waits for resumption", "jid", s.jid.String(), "timeout", s.sm.max)
}

// expire ends a session that was not resumed in time.
func (s *Session) expire(gen uint64) {
	// Checked under the lock terminate takes: a resumption in between
	// keeps the session.
	s.terminateIf(func() bool {
		stale := s.sm.gen != gen || s.t != nil
		if !stale {
			s.srv.log.Info("c2s resumption timeout", "jid", s.jid.String())
		}
		return !stale
	}, "", "", nil)
}

// forgetRequestLocked forgets the request for acknowledgement sent on
// the connection being replaced, and stops its timers: the dead
// connection timer must not close the new one, whose client never got
// that request.
func (s *Session) forgetRequestLocked() {
	s.sm.gen++
	s.stopTimersLocked()
	s.sm.requested, s.sm.sinceRequest = false, 0
}

// attach resumes the session on t (XEP-0198 §5) after the client said it
// handled h of our stanzas. A connection still attached is closed and its
// reader waited for, so that <resumed/> carries the final inbound count.
// The first frames are first(the session's JID, <resumed/>), one element
// each (a WebSocket message carries one), or <resumed/> alone for a nil
// first. It returns the channel to close when t's reader returns, or
// the stream error to end t's stream with when h acknowledges more than
// the session sent (handledCountTooHigh); the session is then unchanged.
func (s *Session) attach(t Transport, h uint32, first func(full jid.JID, resumed *xmlstream.Element) [][]byte) (chan struct{}, error) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil, errGone
	}
	n, err := s.newlyAckedLocked(h)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	safe := s.trimLocked(n)
	defer doneAll(safe)
	old, oldDone := s.t, s.readerDone
	done := make(chan struct{})
	s.t, s.readerDone, s.held, s.resuming = t, done, true, true
	s.forgetRequestLocked()
	s.endPauseLocked() // the old reader stops waiting to read again
	t.SetReadHook(s.readHook(t))
	s.mu.Unlock()

	if old != nil {
		old.Close()
		select {
		case <-oldDone:
		case <-time.After(s.srv.cfg.WriteTimeout):
			s.srv.log.Warn("c2s resumption: the old connection's reader did not stop", "jid", s.jid.String())
		}
	}

	s.mu.Lock()
	s.resuming = false
	if s.closing {
		s.mu.Unlock()
		return nil, errGone
	}
	// Re-send, in order, what the client has not acknowledged, then what
	// waited; CSI state does not survive resumption (the client resends
	// <inactive/> if it wants).
	items := append(s.sm.unacked, s.queue...)
	items = append(items, s.csi.held...)
	// The client resends every stanza after the h of <resumed/>
	// (XEP-0198 §5), those still on their way to safety too: the count
	// goes back to h, so that it never exceeds what the client sent,
	// and what was counted before counts no more. The first copies of
	// those still go on; the resent ones may arrive twice.
	if s.sm.received != s.sm.handled {
		s.sm.received, s.sm.ahead, s.sm.owed = s.sm.handled, nil, false
		s.sm.epoch++
	}
	s.sm.unacked, s.csi.held, s.csi.inactive = nil, nil, false
	// Again: a request for acknowledgement queued while the old reader
	// finished goes with the queue's nonzas. The stanzas it was for are
	// queued again below, and asked for again when due.
	s.forgetRequestLocked()
	ns := t.Namespace()
	resumed := xmlstream.NewElement(NSSM, "resumed", "previd", s.sm.id, "h", strconv.FormatUint(uint64(s.sm.handled), 10))
	frames := [][]byte{resumed.Append(nil, "")}
	if first != nil {
		frames = first(s.jid, resumed)
	}
	s.queue = nil
	for _, f := range frames {
		s.queue = append(s.queue, outItem{frame: f})
	}
	for _, it := range items {
		if it.el == nil {
			continue
		}
		if ns != s.ns {
			it.frame = forClient(it.el).Append(nil, ns)
		}
		s.pushLocked(it)
	}
	s.ns, s.held = ns, false
	start := s.startWriterLocked()
	if s.srv.cfg.Resumed != nil {
		// Under the lock that Deliver and detach tell Config.Waiting
		// under: what this resumption re-sent was told before.
		s.srv.cfg.Resumed(s.jid)
	}
	s.mu.Unlock()
	if start {
		go s.flush()
	}
	return done, nil
}

// isStreamEnd reports whether err is the client closing its stream.
func isStreamEnd(err error) bool { return errors.Is(err, xmlstream.ErrStreamEnd) }

// resumption returns the stream management id ("" if not resumable) and
// the count of safe stanzas.
func (s *Session) resumption() (string, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sm.id, s.sm.handled
}

func (s *Session) countedQueuedLocked() bool {
	for _, it := range s.queue {
		if it.counted {
			return true
		}
	}
	return false
}
