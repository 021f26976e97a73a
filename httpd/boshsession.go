package httpd

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"xmppd/xmlstream"
)

// boshEnd is what CloseFrame returns: Write takes it as the end of the
// stream, answered with a terminating <body/>, and never sends it.
var boshEnd = []byte("</stream:stream>")

var (
	errBOSHInactive   = errors.New("bosh: the client sent no request for the inactivity period")
	errBOSHWindow     = errors.New("bosh: the client sent a request outside the window of rids")
	errBOSHOveractive = errors.New("bosh: the client sent more requests at once than agreed")
	errBOSHPolling    = errors.New("bosh: the client polled more often than the polling interval allows")
	errBOSHBadRequest = errors.New("bosh: the client sent a request that is not a BOSH body")
	errBOSHTooLarge   = errors.New("bosh: the client sent a request larger than a stanza may be")
	errBOSHSlow       = errors.New("bosh: the client does not collect what is written to it")
)

// boshSession is one BOSH session (XEP-0124) carrying one client stream
// (XEP-0206); it is the stream's c2s.Transport. The stream reads the
// elements of the client's requests in rid order, and what it writes waits
// for the next request the client leaves with the server, which is
// answered with everything written until then.
type boshSession struct {
	sid          string
	firstRID     int64
	remote       string
	secure       bool
	wait         time.Duration // the longest a request is held
	hold         int           // how many requests are held at most
	polling      time.Duration // the shortest time between two empty requests of a polling session
	inactivity   time.Duration // how long the client may leave no request
	writeTimeout time.Duration // the longest Write waits for the client
	maxOut       int           // bytes written and not yet collected before Write waits
	maxIn        int           // bytes of requests taken and not yet read before the client must wait
	gapWait      time.Duration // how long requests wait for one missing before them
	version      string        // of BOSH: the client's or the server's, the lower
	legacy       bool          // the client announced no version: errors are HTTP codes (XEP-0124 §17.1)
	content      string        // the Content-Type of the responses (XEP-0124 §7.1)
	forget       func(*boshSession)

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change that a waiter may be waiting for

	// The client's side.
	limits   xmlstream.Limits
	readHook func(n int)
	deadline time.Time              // the stream's read deadline
	nextRID  int64                  // the rid of the next request to take
	early    map[int64]*boshRequest // requests that came before the one of nextRID
	skipped  map[int64]bool         // rids gone on without (takeEarlyLocked)
	gapTimer bool                   // skipGap is due
	header   *xmlstream.Header      // the stream's latest opening
	in       []boshInput            // taken, not yet read by the stream
	inBytes  int                    // the size of the requests in in
	lost     error                  // why the client is gone: one of the errBOSH errors

	// The server's side.
	streamID, from string // of the stream's header, for the first response
	out            [][]byte
	outBytes       int
	held           []*boshRequest   // taken requests waiting for an answer, oldest first
	answered       map[int64][]byte // the latest responses, for a client that asks again
	lastPoll       time.Time        // when the last empty request came that got an empty answer, in a polling session
	ending         bool             // the stream wrote its end: the next response is the last
	terminating    bool             // the client ended the session; the end is awaited
	streamError    bool             // out holds a stream error
	done           bool             // the last response was made: the session is over
	closed         bool             // the stream closed its transport
	forgotten      bool             // forget was called
	idle           *time.Timer      // the inactivity timer while no request is held
	idleGen        int
}

// newBOSHSession returns a session whose first request has rid, with the
// server's longest wait and hold; forget is called when it closes.
func newBOSHSession(rid int64, limits xmlstream.Limits, forget func(*boshSession)) *boshSession {
	if limits.MaxStanzaBytes <= 0 {
		limits.MaxStanzaBytes = xmlstream.DefaultMaxStanzaBytes
	}
	return &boshSession{
		sid:          newSID(),
		firstRID:     rid,
		wait:         boshMaxWait,
		hold:         boshMaxHold,
		polling:      boshPolling,
		inactivity:   60 * time.Second,
		writeTimeout: 30 * time.Second,
		maxOut:       max(4*limits.MaxStanzaBytes, 1<<20),
		maxIn:        2 * (limits.MaxStanzaBytes + boshBodySlack),
		gapWait:      boshGapWait,
		version:      boshVersion,
		content:      boshContent,
		forget:       forget,
		changed:      make(chan struct{}),
		limits:       limits,
		nextRID:      rid,
		early:        make(map[int64]*boshRequest),
		skipped:      make(map[int64]bool),
		answered:     make(map[int64][]byte),
	}
}

// boshRequest is one HTTP request of a session.
type boshRequest struct {
	rid   int64
	body  *xmlstream.Element // until taken
	size  int                // of the HTTP request's body
	reply chan []byte        // the response, sent once
	gone  bool               // answered before it was taken: not to be held
}

// boshInput is what the stream reads next: a stream header (the session's
// creation or a restart), an element, the end of the stream, or a
// violation to report as a stream error.
type boshInput struct {
	header *xmlstream.Header
	el     *xmlstream.Element
	end    bool
	err    error
	size   int // of the request, on its first input
}

// boshGapWait is how long requests wait for one missing before them.
const boshGapWait = 2 * time.Second

// boshRetained is how many responses are kept for clients that ask
// again for one they did not get (XEP-0124 §14.3).
const boshRetained = 4

// boshBodySlack is how much larger than the stanza limit a request's body
// may be: the <body/> wrapper's own bytes.
const boshBodySlack = 1024

func (s *boshSession) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// request handles one HTTP request of the session: its payload is taken
// in rid order, then the request waits until there is something to
// answer with, or until it has waited s.wait, or the client gives up. It
// returns the response's body, or the terminal binding condition
// (XEP-0124 §17.2) with which the request itself ended the session.
func (s *boshSession) request(ctx context.Context, body *xmlstream.Element, rid int64, size int) (resp []byte, condition string) {
	s.mu.Lock()
	if resp, ok := s.answered[rid]; ok {
		s.mu.Unlock()
		return resp, ""
	}
	switch {
	case s.done:
		s.mu.Unlock()
		return boshTerminate(s.endConditionLocked()), ""
	case rid < s.nextRID && !s.retry(rid) && !s.skipped[rid],
		rid >= s.nextRID+int64(s.hold)+2:
		// Outside the window of rids that may come now (§14.2).
		s.lost = errBOSHWindow
		s.closeLocked()
		s.mu.Unlock()
		return nil, "item-not-found"
	}
	arrived := time.Now()
	poll := s.isPoll(rid, body)
	if poll && !s.lastPoll.IsZero() && arrived.Sub(s.lastPoll) < s.polling {
		// Two empty requests of a polling session closer together than
		// the polling interval, the first answered empty (§12).
		s.lost = errBOSHPolling
		s.closeLocked()
		s.mu.Unlock()
		return nil, "policy-violation"
	}
	defer func() {
		if condition == "" {
			s.notePoll(poll, arrived, resp)
		}
	}()
	req := &boshRequest{rid: rid, body: body, size: size, reply: make(chan []byte, 1)}
	switch {
	case s.skipped[rid]:
		// Late, after the session went on without it: taken now.
		delete(s.skipped, rid)
		s.takeLocked(req)
	case rid < s.nextRID:
		s.replaceHeld(req)
	default:
		if old := s.early[rid]; old != nil {
			s.supersede(old)
		}
		s.early[rid] = req
		s.takeEarlyLocked()
		s.signalLocked()
	}
	s.dispatchLocked()
	// The requests agreed are hold+1; the client may send one more to
	// terminate the session (XEP-0124 §11).
	allowed := s.hold + 1
	if body.Attr("type") == "terminate" {
		allowed++
	}
	if len(s.held) > allowed {
		// More at once than the requests agreed (§11): only a client
		// that does not wait while the stream is behind gets here.
		s.lost = errBOSHOveractive
		s.closeLocked()
		s.mu.Unlock()
		return nil, "policy-violation"
	}
	s.mu.Unlock()

	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	select {
	case resp := <-req.reply:
		return resp, ""
	case <-timer.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case resp := <-req.reply:
		return resp, ""
	default:
	}
	// Nothing to say within the wait: an empty answer.
	req.gone = true
	for i, h := range s.held {
		if h == req {
			s.held = append(s.held[:i], s.held[i+1:]...)
			break
		}
	}
	resp = s.responseLocked(rid, false)
	if rid < s.nextRID {
		s.remember(rid, resp)
	}
	s.armIdleLocked()
	return resp, ""
}

// isPoll reports whether the request of rid with body is an empty one
// of a polling session (XEP-0124 §12): a session whose requests are
// answered at once, as the client asked for wait='0' or hold='0'. The
// session's creation request is none, nor is a request that restarts
// the stream or ends the session.
func (s *boshSession) isPoll(rid int64, body *xmlstream.Element) bool {
	return (s.wait == 0 || s.hold == 0) && rid != s.firstRID &&
		len(body.ChildElements()) == 0 && body.Attr("type") == "" &&
		body.AttrNS(NSXBOSH, "restart") != "true"
}

// notePoll records when an empty request of a polling session that
// arrived then got resp, if resp is empty too: the next may come only
// the polling interval later. Any other request lets the next come at
// once.
func (s *boshSession) notePoll(poll bool, arrived time.Time, resp []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Only an answer with payloads closes its <body/> with an end tag.
	if poll && !bytes.HasSuffix(resp, []byte("</body>")) {
		s.lastPoll = arrived
	} else {
		s.lastPoll = time.Time{}
	}
}

// retry reports whether rid is that of a request being held: the client
// sent it again, its first connection having failed.
func (s *boshSession) retry(rid int64) bool {
	for _, h := range s.held {
		if h.rid == rid {
			return true
		}
	}
	return false
}

// replaceHeld puts req in the place of the held request with its rid.
func (s *boshSession) replaceHeld(req *boshRequest) {
	for i, h := range s.held {
		if h.rid == req.rid {
			s.supersede(h)
			s.held[i] = req
			return
		}
	}
}

// supersede answers old empty: its client sent its rid again, so the
// first connection is gone.
func (s *boshSession) supersede(old *boshRequest) {
	old.gone = true
	old.reply <- s.responseLocked(old.rid, false)
}

// takeEarlyLocked takes the requests that are next in rid order. While
// a gap stays before the others, it waits s.gapWait for the missing
// request, then goes on without it: Strophe.js, restoring a session
// after a page reload, may start after a rid the old page never sent.
func (s *boshSession) takeEarlyLocked() {
	for {
		req := s.early[s.nextRID]
		if req == nil {
			break
		}
		delete(s.early, s.nextRID)
		s.nextRID++
		s.takeLocked(req)
	}
	if len(s.early) > 0 && !s.gapTimer {
		s.gapTimer = true
		time.AfterFunc(s.gapWait, s.skipGap)
	}
}

// skipGap goes on without the requests missing before the early ones.
func (s *boshSession) skipGap() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gapTimer = false
	if len(s.early) == 0 || s.done {
		return
	}
	first := int64(-1)
	for rid := range s.early {
		if first < 0 || rid < first {
			first = rid
		}
	}
	for rid := range s.skipped {
		if rid < first-boshRetained {
			delete(s.skipped, rid)
		}
	}
	for ; s.nextRID < first; s.nextRID++ {
		s.skipped[s.nextRID] = true
	}
	s.takeEarlyLocked()
	s.dispatchLocked()
	s.signalLocked()
}

// takeLocked takes the payload of req, and holds it unless its client
// gave up waiting.
func (s *boshSession) takeLocked(req *boshRequest) {
	s.inputLocked(req.body, req.size)
	req.body = nil
	if req.gone {
		// Answered, empty, before its turn: the same answer if asked again.
		s.remember(req.rid, s.responseLocked(req.rid, false))
	} else {
		s.held = append(s.held, req)
		s.stopIdleLocked()
	}
}

// maxBody is the size of the largest request the stream accepts now.
func (s *boshSession) maxBody() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits.MaxStanzaBytes + boshBodySlack
}

// inputLocked queues what body brings for the stream to read.
func (s *boshSession) inputLocked(body *xmlstream.Element, size int) {
	first := len(s.in)
	defer func() {
		if len(s.in) > first {
			s.in[first].size = size
			s.inBytes += size
		}
		s.signalLocked()
	}()
	if size > s.limits.MaxStanzaBytes+boshBodySlack {
		s.in = append(s.in, boshInput{err: &xmlstream.Error{Condition: xmlstream.CondPolicyViolation,
			Text: "a request's body is larger than " + strconv.Itoa(s.limits.MaxStanzaBytes+boshBodySlack) + " bytes"}})
		return
	}
	if s.header == nil || body.AttrNS(NSXBOSH, "restart") == "true" {
		// The creation request opens the stream, a restart request opens
		// it again (XEP-0206 §5), with the creation's attributes where it
		// leaves them out.
		h := xmlstream.Header{Name: body.Name, DefaultNS: "jabber:client"}
		if s.header != nil {
			h = *s.header
		}
		if to := body.Attr("to"); to != "" {
			h.To = to
		}
		if v := body.AttrNS(NSXBOSH, "version"); v != "" {
			h.Version = v
		}
		if lang := body.Lang(); lang != "" {
			h.Lang = lang
		}
		s.header = &h
		s.in = append(s.in, boshInput{header: &h})
	}
	for _, c := range body.ChildElements() {
		qualify(c)
		s.in = append(s.in, boshInput{el: c})
	}
	if body.Attr("type") == "terminate" {
		s.in = append(s.in, boshInput{end: true})
		s.terminating = true
	}
}

// qualify puts el and its descendants that inherited the <body/>
// wrapper's namespace in jabber:client: XEP-0206 §2 notes that many
// clients send stanzas without a namespace of their own.
func qualify(el *xmlstream.Element) {
	if el.Name.Space != NSHTTPBind {
		return
	}
	el.Name.Space = "jabber:client"
	for _, c := range el.ChildElements() {
		qualify(c)
	}
}

// dispatchLocked answers held requests, oldest first, while there is
// something to answer with or more requests are held than agreed.
func (s *boshSession) dispatchLocked() {
	for len(s.held) > 0 {
		var resp []byte
		switch {
		case (s.ending || s.closed) && s.terminating && !s.streamError && len(s.held) > 1:
			// The client ended the session (XEP-0124 §13) and an
			// earlier request is held: that one gets what the stream
			// wrote before its end, and the termination request the
			// end alone. Clients such as Strophe.js read nothing in an
			// answer that ends a session they are ending.
			resp = s.outputLocked(s.held[0].rid)
		case s.ending || s.closed || len(s.out) > 0 && !s.terminating:
			// What is written before the end of a stream the client
			// ended goes with the end, in the answer to its request,
			// when no earlier one is held.
			resp = s.responseLocked(s.held[0].rid, true)
		case len(s.held) > s.hold && !s.terminating && s.inBytes <= s.maxIn:
			// A new request came: the oldest goes back empty, unless
			// the stream is behind with what the client sent, when the
			// client must wait for it.
			resp = s.responseLocked(s.held[0].rid, false)
		default:
			return
		}
		req := s.held[0]
		s.held = s.held[1:]
		s.remember(req.rid, resp)
		req.reply <- resp
	}
	s.armIdleLocked()
}

// responseLocked makes the response to the request of rid: with what was
// written unless empty is asked for, and the end of the session after
// the end of the stream.
func (s *boshSession) responseLocked(rid int64, withOut bool) []byte {
	return s.makeResponseLocked(rid, withOut, withOut && (s.ending || s.closed))
}

// outputLocked makes the response to the request of rid with what was
// written, and without the end of the session even after the end of the
// stream: a later request gets that.
func (s *boshSession) outputLocked(rid int64) []byte {
	return s.makeResponseLocked(rid, true, false)
}

// makeResponseLocked makes the response to the request of rid: with what
// was written if withOut, and the end of the session if last.
func (s *boshSession) makeResponseLocked(rid int64, withOut, last bool) []byte {
	b := append([]byte(nil), "<body xmlns='"+NSHTTPBind+"'"...)
	if rid == s.firstRID {
		b = s.appendCreation(b)
	}
	if last {
		b = append(b, " type='terminate'"...)
		if s.streamError {
			b = append(b, " condition='remote-stream-error' xmlns:stream='http://etherx.jabber.org/streams'"...)
		} else if c := s.endConditionLocked(); c != "" {
			b = append(b, " condition='"+c+"'"...)
		}
		s.finishLocked()
	}
	if !withOut || len(s.out) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	for _, f := range s.out {
		b = append(b, f...)
	}
	s.out, s.outBytes = nil, 0
	s.signalLocked()
	return append(b, "</body>"...)
}

// endConditionLocked is the terminal binding condition (XEP-0124 §17.2)
// for the requests of a session that ended without a stream error: the
// requests held, or sent later, when another request ended it with its
// own condition get other-request; others none.
func (s *boshSession) endConditionLocked() string {
	switch s.lost {
	case errBOSHWindow, errBOSHOveractive, errBOSHPolling, errBOSHBadRequest, errBOSHTooLarge:
		return "other-request"
	}
	return ""
}

// appendCreation adds the attributes of the session creation response
// (XEP-0124 §7.1, XEP-0206 §3).
func (s *boshSession) appendCreation(b []byte) []byte {
	attr := func(name, value string) {
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, "='"...)
		b = xmlstream.AppendEscaped(b, value)
		b = append(b, '\'')
	}
	attr("sid", s.sid)
	attr("wait", strconv.Itoa(int(s.wait/time.Second)))
	attr("requests", strconv.Itoa(s.hold+1))
	attr("hold", strconv.Itoa(s.hold))
	attr("inactivity", strconv.Itoa(int(s.inactivity/time.Second)))
	attr("polling", strconv.Itoa(int(s.polling/time.Second)))
	attr("ver", s.version)
	attr("from", s.from)
	attr("authid", s.streamID)
	attr("secure", strconv.FormatBool(s.secure))
	attr("xmlns:xmpp", NSXBOSH)
	attr("xmpp:version", "1.0")
	attr("xmpp:restartlogic", "true")
	return b
}

// remember keeps resp, the answer to rid, for a client that asks again,
// with the latest boshRetained answers before it.
func (s *boshSession) remember(rid int64, resp []byte) {
	s.answered[rid] = resp
	for r := range s.answered {
		if r <= rid-boshRetained {
			delete(s.answered, r)
		}
	}
}

// armIdleLocked starts the inactivity period when no request is held.
func (s *boshSession) armIdleLocked() {
	if len(s.held) > 0 || s.done || s.closed || s.idle != nil {
		return
	}
	s.idleGen++
	gen := s.idleGen
	s.idle = time.AfterFunc(s.inactivity, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.idleGen == gen && len(s.held) == 0 {
			s.lost = errBOSHInactive
			s.signalLocked()
		}
	})
}

func (s *boshSession) stopIdleLocked() {
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
		s.idleGen++
	}
}

// fail ends the session at once for err, as for a connection that broke.
func (s *boshSession) fail(err error) {
	s.mu.Lock()
	if s.lost == nil {
		s.lost = err
	}
	s.closeLocked()
	s.mu.Unlock()
}

// closeLocked ends the stream. What it wrote that no request collected
// yet, its error and end included, goes to the client's next request,
// if it comes within the inactivity period; then the session is over.
func (s *boshSession) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	s.stopIdleLocked()
	s.signalLocked()
	s.dispatchLocked()
	if s.done || s.lost != nil || len(s.out) == 0 && !s.ending {
		s.finishLocked()
		return
	}
	time.AfterFunc(s.inactivity, func() {
		s.mu.Lock()
		s.finishLocked()
		s.mu.Unlock()
	})
}

// finishLocked makes the session over: it answers no more requests but
// with its end, and is forgotten once closed.
func (s *boshSession) finishLocked() {
	if !s.done {
		s.done = true
		s.signalLocked()
	}
	if s.closed && !s.forgotten {
		s.forgotten = true
		go s.forget(s)
	}
}
