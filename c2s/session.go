package c2s

import (
	"context"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/internal/ratelimit"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// closeGrace is how long a closing session may take to write its last
// frames before the connection is closed regardless.
const closeGrace = 5 * time.Second

// Session is a client stream with a bound resource. It outlives its
// connection when stream management (XEP-0198) made it resumable: it then
// stays bound and keeps queuing until the client resumes it on a new
// connection or the resumption timeout ends it.
//
// Concurrency. Three kinds of goroutine touch a session:
//
//   - the reader of the attached connection (serve), which alone reads
//     from it and routes what the client sends;
//   - the writer (flush), started on demand while there is something to
//     write, at most one at a time (the writing flag);
//   - any goroutine that delivers (router.Route callers) or ends it, and
//     the session's timers.
//
// mu guards every field below it. It is never held while calling the
// router or writing to a connection. Lock order: Server.mu before
// Session.mu; never the reverse. Config.Waiting and Config.Resumed are
// called under mu (so that a resumption is told after what it re-sent
// was): they take their own locks after it, and call back nothing.
type Session struct {
	srv  *Server
	jid  jid.JID
	lang string
	// ended is closed once terminate is done: the session has left the
	// router and routed again what it held.
	ended chan struct{}

	mu         sync.Mutex
	t          Transport     // attached connection; nil while detached
	readerDone chan struct{} // closed when the reader of t returns
	ns         string        // namespace frames are serialised in, t's
	queue      []outItem     // waiting for the writer, in order
	held       bool          // queue but do not write yet
	resuming   bool          // t resumes the session, which waits for the old reader (attach)
	writing    bool          // a writer goroutine is running
	closing    bool          // ended: no more stanzas are accepted
	closeAfter bool          // close the connection once the queue is written
	sm         smState
	csi        csiState

	// limit is the client's rate limit (nil: none), limited how often it
	// paused the reader, and pauseEnd, while the reader pauses, is closed
	// to end the pause; guarded by mu.
	limit    *ratelimit.Bucket
	limited  int
	pauseEnd chan struct{}
}

// outItem is one frame for the client: a stanza (el set) or a nonza.
type outItem struct {
	el      *xmlstream.Element // nil for a nonza such as <a/>
	frame   []byte
	counted bool     // counts for stream management: kept until acknowledged
	receipt *receipt // the sender's, held until acknowledged or re-routed
	// others are the account's other sessions that got el too, or a
	// copy of it (Shared): while one is bound, el is not re-routed.
	others []router.Session
}

// newSession returns a held session: what it is given is queued but not
// written until release.
func newSession(srv *Server, t Transport, j jid.JID, lang string) *Session {
	s := &Session{srv: srv, t: t, jid: j, lang: lang, ns: t.Namespace(), held: true, readerDone: make(chan struct{}),
		ended: make(chan struct{})}
	if srv.cfg.RateLimit > 0 {
		s.limit = ratelimit.New(srv.cfg.RateLimit, time.Now())
		t.SetReadHook(s.readHook(t))
	}
	return s
}

// release starts writing the queue. The bind result is queued while the
// session is held, so that the client cannot see it before the router can
// deliver to the new resource, and nothing delivered overtakes it.
func (s *Session) release() {
	s.mu.Lock()
	s.held = false
	start := s.startWriterLocked()
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// JID returns the session's full JID.
func (s *Session) JID() jid.JID { return s.jid }

// Deliver queues st for the client. It returns false when the session is
// closing, or when its queue is full: a client that does not read (or
// does not acknowledge, or does not come back) is disconnected rather
// than allowed to hold memory or stall its senders, and what it had
// queued is routed again.
func (s *Session) Deliver(st *xmlstream.Element) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	if len(s.queue)+len(s.sm.unacked) >= s.srv.cfg.QueueSize {
		s.mu.Unlock()
		s.srv.log.Warn("c2s ending a session whose queue is full", "jid", s.jid.String(), "queued", s.srv.cfg.QueueSize)
		// Asynchronously: the caller is routing and must not wait for
		// the re-routing of this session's queue.
		s.endAsync("policy-violation", "too many stanzas are waiting for this client")
		return false
	}
	frame := forClient(st).Append(nil, s.ns)
	var rc *receipt
	if s.sm.enabled {
		rc = s.srv.receiptFor(st)
	}
	if s.csi.inactive && s.holdLocked(st, frame) {
		// Push decides what wakes a device, not what CSI holds.
		s.waitingLocked(st)
		s.mu.Unlock()
		rc.done() // held is safe; after unlocking: it may lock its sender's session, this one
		return true
	}
	s.flushHeldLocked()
	s.pushLocked(outItem{el: st, frame: frame, receipt: rc})
	start := s.startWriterLocked()
	s.waitingLocked(st)
	s.mu.Unlock()
	if start {
		go s.flush()
	}
	return true
}

// waitingLocked tells Config.Waiting of st, a stanza just queued or held,
// when it is a message and the session waits to be resumed. Told under
// the lock that attach takes to tell Config.Resumed, it is never told
// after a resumption that re-sent st.
func (s *Session) waitingLocked(st *xmlstream.Element) {
	if s.t == nil && st.Name.Local == stanza.Message && s.srv.cfg.Waiting != nil {
		s.srv.cfg.Waiting(s.jid, []*xmlstream.Element{st})
	}
}

// nsCarbons is the namespace of XEP-0280 message carbons, whose copies and
// markers the stream layer recognises.
const nsCarbons = "urn:xmpp:carbons:2"

// nsDelay is XEP-0203's namespace (dropServerDelays).
const nsDelay = "urn:xmpp:delay"

// forClient returns st as a client gets it: a message without the
// <private/> of message carbons, which the receiving server SHOULD remove
// (XEP-0280 §9). The router and its observers see st itself, so carbons
// still leaves a private message uncopied.
func forClient(st *xmlstream.Element) *xmlstream.Element {
	if st.Name.Local != stanza.Message {
		return st
	}
	return st.Without(nsCarbons, "private")
}

// A Session tells the router when what it delivered is safe, and learns
// from it which messages its account's other sessions have too.
var (
	_ router.SafeSession    = (*Session)(nil)
	_ router.SharingSession = (*Session)(nil)
)

// Shared records that the sessions others of the account got the message
// st too, or a copy of it (router.SharingSession), when st is still
// waiting for the client or for its acknowledgement: ending before the
// client acknowledged it, the session does not route it again to them
// (reroute). Told after the session ended, or once the client
// acknowledged st, it has nothing to do.
func (s *Session) Shared(st *xmlstream.Element, others []router.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sm.enabled || s.closing {
		return
	}
	// st was queued a moment ago: it is near the end of one of them.
	for _, items := range [][]outItem{s.queue, s.sm.unacked, s.csi.held} {
		for i := len(items) - 1; i >= 0; i-- {
			if items[i].el == st {
				items[i].others = append(items[i].others, others...)
				return
			}
		}
	}
}

// DeliverSafe is Deliver, and calls safe once st is safe
// (router.SafeSession): at once without stream management, otherwise once
// the client acknowledged st or this session ended and routed it again.
func (s *Session) DeliverSafe(st *xmlstream.Element, safe func()) bool {
	rc := &receipt{onSafe: safe}
	rc.pending.Store(1) // for the delivery; Deliver adds the client's
	var ok bool
	s.srv.routeTracked(st, rc, func() { ok = s.Deliver(st) })
	if ok {
		rc.done()
	}
	return ok
}

// pushLocked appends it to the queue, counting stanzas once stream
// management is on, and asks the client for an acknowledgement when due.
func (s *Session) pushLocked(it outItem) {
	it.counted = it.el != nil && s.sm.enabled
	s.queue = append(s.queue, it)
	if it.counted {
		s.smQueuedLocked()
	}
}

// pushNonza queues a nonza (such as <a/>) and starts the writer.
func (s *Session) pushNonza(frame []byte) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, outItem{frame: frame})
	start := s.startWriterLocked()
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// startWriterLocked reports whether the caller must start a writer, and
// marks it started.
func (s *Session) startWriterLocked() bool {
	if s.writing || s.held || s.t == nil || len(s.queue) == 0 {
		return false
	}
	s.writing = true
	return true
}

// End closes the session with a stream error, for example conflict when
// another session bound the same resource (RFC 6120 §7.7.2.2). It
// returns at once; the session re-routes its queue on its own goroutine.
func (s *Session) End(condition, text string) { s.endAsync(condition, text) }

func (s *Session) endAsync(condition, text string) {
	go s.terminate(condition, text)
}

// terminate ends the session for good: it refuses further stanzas, writes
// the stream error (if condition is set) and the end of the stream to an
// attached connection, leaves the router, then routes again what the
// client has not acknowledged (see reroute). It runs once.
func (s *Session) terminate(condition, text string) { s.terminateIf(nil, condition, text, nil) }

// terminateIf is terminate, unless still, asked under the session's
// lock, says the session is to be kept; the stream error carries app, an
// application-specific condition, when not nil.
func (s *Session) terminateIf(still func() bool, condition, text string, app *xmlstream.Element) {
	s.mu.Lock()
	if s.closing || still != nil && !still() {
		s.mu.Unlock()
		return
	}
	s.closing, s.held, s.closeAfter = true, false, true
	s.stopTimersLocked()
	s.endPauseLocked()
	t := s.t
	if s.resuming {
		// t is not the session's yet: attach answers it <failed/>, and
		// what is queued goes to the session's other resources or to
		// offline storage only, not also to a client that never got
		// <resumed/>.
		t, s.t = nil, nil
	}
	var left []outItem
	if t != nil {
		// What is queued is written before the end of the stream, e.g.
		// the result of the IQ that made the session end.
		s.flushHeldLocked()
	}
	if t == nil || s.sm.enabled {
		// The client may not get, or not acknowledge, the queue either.
		left = s.undeliveredLocked()
	}
	var start bool
	if t != nil {
		if condition != "" {
			s.queue = append(s.queue, outItem{frame: streamErrorFrame(t, condition, text, app)})
		}
		s.queue = append(s.queue, outItem{frame: t.CloseFrame()})
		start = s.startWriterLocked()
	}
	s.mu.Unlock()
	if t != nil {
		if start {
			go s.flush()
		}
		time.AfterFunc(closeGrace, func() { t.Close() })
	}
	s.srv.forget(s)
	s.srv.router.Unbind(s)
	s.reroute(left)
	close(s.ended)
	s.srv.sessionEnded()
}

// undeliveredLocked takes every stanza the client may not have: what it
// has not acknowledged, the queue, and held stanzas. The queue's stanzas
// stay queued: they may still be written (a duplicate, never a loss).
func (s *Session) undeliveredLocked() []outItem {
	left := append([]outItem(nil), s.sm.unacked...)
	kept := s.queue[:0]
	for _, it := range s.queue {
		if it.el != nil {
			left = append(left, it)
			it.counted, it.receipt = false, nil
		}
		kept = append(kept, it)
	}
	left = append(left, s.csi.held...)
	s.sm.unacked, s.queue, s.csi.held = nil, kept, nil
	return left
}

// flush writes the queue until it is empty, the session is held, or the
// connection is detached, then exits.
func (s *Session) flush() {
	var frames [][]byte
	for {
		s.mu.Lock()
		t := s.t
		if t == nil || s.held || len(s.queue) == 0 {
			s.writing = false
			closeNow := t != nil && s.closeAfter && len(s.queue) == 0
			s.mu.Unlock()
			if closeNow {
				t.Close()
			}
			return
		}
		batch := s.queue
		s.queue = nil
		frames = frames[:0]
		for _, it := range batch {
			frames = append(frames, it.frame)
			if it.counted {
				// Sent from now on: kept until the client acknowledges it.
				s.sm.unacked = append(s.sm.unacked, it)
			}
		}
		s.mu.Unlock()
		if err := t.Write(frames...); err != nil {
			// The reader sees the connection fail and decides whether the
			// session waits for resumption or ends.
			t.Close()
			s.mu.Lock()
			superseded := s.t != t
			if !superseded {
				s.writing = false
			}
			s.mu.Unlock()
			if !superseded {
				return
			}
		}
	}
}

// serve reads the client's stanzas from t until the stream ends or the
// connection fails, then ends the session or lets it wait for
// resumption, closes done and calls ended (when not nil). While the
// client is idle on a transport that parks (park.go), the goroutine
// reading it ends, and a new one serves on once the client sends more.
func (s *Session) serve(ctx context.Context, t Transport, done chan struct{}, ended func()) {
	read := t.ReadElement
	p, parks := t.(parker)
	if parks {
		read = p.ReadElementParked
	}
	for {
		el, err := read()
		if err == errParked {
			p.Park(func() { s.serve(ctx, t, done, ended) })
			return
		}
		if err == nil {
			err = s.handle(ctx, t, el)
		}
		if err != nil {
			s.readFailed(t, err)
			close(done)
			if ended != nil {
				ended()
			}
			return
		}
	}
}

// readFailed ends the session after a read error or a violation on t, or
// detaches it when it is resumable and the connection was merely lost.
func (s *Session) readFailed(t Transport, err error) {
	s.mu.Lock()
	current, resumable := s.t == t && !s.closing, s.sm.id != ""
	s.mu.Unlock()
	if !current {
		// Resumed on another connection, or already ending.
		t.Close()
		return
	}
	cond, text := streamCondition(err)
	// No read deadline is set on a bound session (parking handles its
	// own), so a timeout is the kernel giving up on the peer (ETIMEDOUT
	// from keepalive or retransmissions): a lost connection, like a reset.
	lost := (cond == "" || cond == "connection-timeout") && !isStreamEnd(err)
	switch {
	case s.srv.shuttingDown():
		s.terminate("system-shutdown", "the server is stopping")
	case lost && resumable:
		s.detach(t)
	case cond != "":
		s.srv.log.Info("c2s stream error", "jid", s.jid.String(), "condition", cond, "text", text)
		s.terminateIf(nil, cond, text, streamApp(err))
	default:
		s.terminate("", "")
	}
}

// handle checks one element from the client on t: a stanza is stamped
// with its sender and routed, a nonza is handled here.
func (s *Session) handle(ctx context.Context, t Transport, el *xmlstream.Element) error {
	if isStreamError(el) {
		s.srv.log.Info("c2s stream error from the client", "jid", s.jid.String(), "condition", streamErrorCondition(el))
		return xmlstream.ErrStreamEnd
	}
	switch el.Name.Space {
	case NSSM:
		return s.handleSM(t, el)
	case NSCSI:
		return s.handleCSI(el)
	}
	if !stanza.IsStanza(el, stanza.NSClient) {
		return &streamError{"unsupported-stanza-type", "unexpected element {" + el.Name.Space + "}" + el.Name.Local}
	}
	// RFC 6120 §8.1.2.1: the server, never the client, says who sent it.
	stanza.DropNamespacedAddressing(el)
	el.SetAttr("from", s.jid.String())
	s.dropServerDelays(el)
	if s.lang != "" && el.Lang() == "" {
		el.SetAttrNS("xml", "lang", s.lang)
	}
	if problem := invalidStanza(el); problem != "" {
		if el.Attr("type") == "error" {
			// RFC 6120 §8.3.1: never an error in answer to an error.
			s.number(nil)
			return nil
		}
		reply := stanza.ErrorReply(el, stanza.BadRequest, problem)
		reply.SetAttr("from", s.jid.Domainpart())
		s.Deliver(reply)
		s.number(nil)
		return nil
	}
	if !s.sm.enabled { // written only by this goroutine
		s.srv.router.FromClient(ctx, el)
		return nil
	}
	// Acknowledge only what is safe (receipt.go): the router is
	// synchronous, so the stanza is now answered, committed to storage,
	// or queued for sessions whose acknowledgements the receipt awaits.
	rc := s.number(el)
	s.srv.routeTracked(el, rc, func() { s.srv.router.FromClient(ctx, el) })
	rc.done()
	return nil
}

// dropServerDelays removes the XEP-0203 <delay/> elements of el that
// claim to be from one of this server's domains: only the server says
// when it delayed a stanza, and offline storage keeps the delay of its
// domain that a stanza already has (offline.Delayed).
func (s *Session) dropServerDelays(el *xmlstream.Element) {
	kept := el.Children[:0]
	for _, c := range el.Children {
		if d, ok := c.(*xmlstream.Element); ok && d.Name.Space == nsDelay && d.Name.Local == "delay" && s.srv.router.IsLocal(d.Attr("from")) {
			continue
		}
		kept = append(kept, c)
	}
	el.Children = kept
}

// number counts a stanza received with stream management on and returns
// its receipt, holding it for the routing; nil without stream management
// or without el (then the stanza is safe at once).
func (s *Session) number(el *xmlstream.Element) *receipt {
	if !s.sm.enabled {
		return nil
	}
	s.sm.received++
	rc := &receipt{s: s, seq: s.sm.received, epoch: s.sm.epoch}
	rc.pending.Store(1)
	if el == nil {
		rc.done()
		return nil
	}
	return rc
}

// invalidStanza returns why el is not a valid stanza, or "".
func invalidStanza(el *xmlstream.Element) string {
	typ := el.Attr("type")
	switch el.Name.Local {
	case stanza.IQ:
		switch typ {
		case "get", "set", "result", "error":
		default:
			return "an IQ needs a type of get, set, result or error"
		}
		if el.Attr("id") == "" {
			return "an IQ needs an id"
		}
	case stanza.Message:
		switch typ {
		case "", "normal", "chat", "groupchat", "headline", "error":
		default:
			return "unknown message type " + typ
		}
	case stanza.Presence:
		switch typ {
		case "", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error":
		default:
			return "unknown presence type " + typ
		}
	}
	return ""
}
