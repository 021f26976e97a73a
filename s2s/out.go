package s2s

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/internal/ratelimit"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// maxBatch is the most queued stanzas written at once.
const maxBatch = 64

// outStream is our stream from one local domain to one remote domain:
// stanzas wait in its queue while it connects, and go out in order.
type outStream struct {
	s *Server
	p pair
	// via is the peer's incoming stream that carries our stanzas, when
	// the peer made it bidirectional (XEP-0288); nil: we connect.
	via   *conn
	queue chan queued
	// sm holds the peer's stream management elements for run.
	sm       *inbox
	quit     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when run returns
	// lastRead is when the peer last sent a stanza over our bidirectional
	// stream (Unix nanoseconds), which keeps the stream from idling out.
	lastRead atomic.Int64
	// ready is set by run once the stream can carry stanzas: when it
	// ends, what waits in the queue goes over a new one.
	ready bool
}

// Route queues st, from a local domain, for the stream to its recipient's
// domain, opening the stream if there is none. A message worth keeping
// goes into the outbox first, so that it survives a crash. Route never
// waits for the network; a stanza that cannot go is bounced to its
// sender.
func (s *Server) Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	p := pair{local: from.Domainpart(), remote: to.Domainpart()}
	if !s.router.Serves(p.local) {
		s.log.Warn("s2s: not relaying a stanza from another server", "from", from.String(), "to", to.String())
		return
	}
	if q, ok := s.keep(ctx, p, st); ok {
		s.enqueue(ctx, p, q)
	}
}

// enqueue queues q for p's stream, opening it if there is none. While the
// server stops, a message in the outbox stays there for the next start;
// other stanzas are bounced.
func (s *Server) enqueue(ctx context.Context, p pair, q queued) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		if q.kept == 0 {
			s.router.Bounce(ctx, q.st, stanza.RemoteServerTimeout, "the server is stopping")
		}
		return
	}
	o := s.out[p]
	if o == nil && s.tooManyOut(p) {
		s.mu.Unlock()
		s.log.Warn("s2s: not connecting to another server: too many outgoing streams", "local", p.local, "remote", p.remote, "limit", s.cfg.MaxOutgoing)
		s.forget([]queued{q})
		s.router.Bounce(ctx, q.st, stanza.ResourceConstraint, "too many streams to other servers are open")
		return
	}
	if o == nil {
		o = s.startOut(p, make(chan queued, s.cfg.QueueSize), nil)
	}
	ok := false
	select {
	case o.queue <- q:
		ok = true
	default:
	}
	s.mu.Unlock()
	if !ok {
		s.forget([]queued{q})
		s.router.Bounce(ctx, q.st, stanza.ResourceConstraint, "too many stanzas are waiting for "+p.remote)
	}
}

// tooManyOut reports whether a stream for p would be one more than
// MaxOutgoing streams of our own (RFC 6120 §8.3.3.18: the server lacks
// the resources); one over the peer's bidirectional stream opens no
// connection. s.mu is held.
func (s *Server) tooManyOut(p pair) bool {
	return s.cfg.MaxOutgoing > 0 && s.dialled >= s.cfg.MaxOutgoing && s.bidiFor(p) == nil
}

// startOut starts p's stream with queue, after retry, over the peer's
// bidirectional stream if one carries p, else over one of ours. s.mu is
// held.
func (s *Server) startOut(p pair, queue chan queued, retry []queued) *outStream {
	o := &outStream{s: s, p: p, via: s.bidiFor(p), queue: queue, sm: newInbox(), quit: make(chan struct{}), done: make(chan struct{})}
	s.out[p] = o
	if o.via == nil {
		s.dialled++
	}
	s.wg.Add(1)
	go o.run(retry)
	return o
}

// run connects, authenticates and then writes retry, stanzas written on
// a stream that broke before the peer acknowledged them, and then queued
// stanzas, until the stream idles out, fails or the server stops.
func (o *outStream) run(retry []queued) {
	defer o.s.wg.Done()
	defer close(o.done)
	c, ended, err := o.start()
	if err != nil {
		o.s.log.Info("s2s outgoing stream failed", "local", o.p.local, "remote", o.p.remote, "err", err)
		o.close(err, retry)
		return
	}
	var a acks
	if err := o.enable(c, &a); err != nil {
		o.broken(c, err, &a, retry)
		return
	}
	defer a.timer.Stop()
	idle := time.NewTimer(o.s.cfg.IdleTimeout)
	defer idle.Stop()
	for {
		queue := o.queue
		if a.waiting {
			queue = nil // nothing goes out before the answer to <enable/>, retry neither
		} else {
			o.ready = true
			if len(retry) > 0 {
				err := o.send(c, &a, retry)
				retry = nil
				if err != nil {
					o.broken(c, err, &a, nil)
					return
				}
			}
		}
		select {
		case q := <-queue:
			if err := o.send(c, &a, o.collect(q)); err != nil {
				o.broken(c, err, &a, nil)
				return
			}
			idle.Reset(o.s.cfg.IdleTimeout)
		case <-o.sm.ready:
			if err := o.takeInbox(c, &a, true); err != nil {
				o.broken(c, err, &a, retry)
				return
			}
		case <-a.timer.C:
			a.timing = false
			// An answer may wait in the inbox, unread.
			if err := o.takeInbox(c, &a, true); err != nil {
				o.broken(c, err, &a, retry)
				return
			}
			if a.waiting || len(a.unacked) > 0 && !a.timing {
				o.broken(c, streamErr("connection-timeout", "stream management went unanswered"), &a, retry)
				return
			}
		case <-idle.C:
			if read := time.Since(time.Unix(0, o.lastRead.Load())); read < o.s.cfg.IdleTimeout {
				idle.Reset(o.s.cfg.IdleTimeout - read)
				continue
			}
			if len(a.unacked) == 0 && !a.waiting && (o.via == nil || !c.viaPending(o)) && o.retire() {
				o.closeGracefully(c, ended, nil, closeWait)
				return
			}
			idle.Reset(o.s.cfg.IdleTimeout)
		case err := <-ended:
			// The reader left what it read before the end: an <a/> there
			// acknowledges stanzas that must not go again.
			o.takeInbox(c, &a, false)
			o.end(c, err)
			o.close(err, append(o.unacked(c, &a), retry...))
			return
		case <-o.quit:
			// What waits for the working stream goes out before its end:
			// the peer gets it, rather than its senders an error.
			for n := len(o.queue); n > 0 && !a.waiting; {
				batch := o.collect(<-o.queue)
				n -= len(batch)
				if err := o.send(c, &a, batch); err != nil {
					o.broken(c, err, &a, retry)
					return
				}
			}
			// The peer's last <a/> comes before its end (XEP-0198 §7).
			o.closeGracefully(c, ended, streamErr("system-shutdown", "the server is stopping"), stopWait)
			o.takeInbox(c, &a, false)
			// Of what the peer did not acknowledge, the messages in the
			// outbox stay there; the other stanzas (IQs, presence) go
			// nowhere else, so their senders get an error (RFC 6120
			// §10.4.3.2), as for those still queued (bounce).
			o.close(errors.New("the server is stopping"), append(o.unacked(c, &a), retry...))
			return
		}
	}
}

// send writes batch on c. With stream management on, it waits for the
// peer's acknowledgement; without, it is sent. A batch that could not be
// written is left unacknowledged.
func (o *outStream) send(c *conn, a *acks, batch []queued) error {
	if o.via != nil {
		tracked, err := c.writeVia(o, batch)
		if err != nil {
			a.unacked = append(a.unacked, batch...)
			return err
		}
		// The peer's stream is in use: our reader must not time it out
		// for the peer's silence.
		c.extendRead(4 * o.s.cfg.IdleTimeout)
		if !tracked {
			o.s.forget(batch)
		}
		return nil
	}
	if err := c.writeElements(stanzas(batch)...); err != nil {
		a.unacked = append(a.unacked, batch...)
		return err
	}
	return o.written(c, a, batch)
}

// unacked returns what was written on c and not acknowledged, as c
// ends: on a peer's stream, what the peer did not acknowledge of ours
// goes first.
func (o *outStream) unacked(c *conn, a *acks) []queued {
	if o.via == nil {
		return a.unacked
	}
	return append(c.takeVia(o), a.unacked...)
}

// broken ends c, which failed with err, even as the peer's stream, and
// closes the stream with what was written but not acknowledged, and
// then retry, which waits to go again. Acknowledgements the reader left
// count.
func (o *outStream) broken(c *conn, err error, a *acks, retry []queued) {
	o.takeInbox(c, a, false)
	left := append(o.unacked(c, a), retry...)
	o.s.log.Info("s2s outgoing stream broke", "local", o.p.local, "remote", o.p.remote, "unacknowledged", len(left), "err", err)
	c.end(err, o.p.local)
	o.close(err, left)
}

// start returns the stream to write on, and what tells that it ended:
// the peer's bidirectional stream, or one we connect and authenticate.
func (o *outStream) start() (*conn, <-chan error, error) {
	ended := make(chan error, 1)
	if c := o.via; c != nil {
		go func() {
			select {
			case <-c.closed:
				ended <- errors.New("the peer's bidirectional stream ended")
			case <-o.done:
			}
		}()
		o.s.log.Info("s2s stanzas go over the peer's bidirectional stream", "local", o.p.local, "remote", o.p.remote)
		return c, ended, nil
	}
	c, err := o.connect()
	if err != nil {
		return nil, nil, err
	}
	o.s.log.Info("s2s outgoing stream authenticated", "local", o.p.local, "remote", o.p.remote, "bidirectional", c.bidi)
	go func() { ended <- o.read(c) }()
	return c, ended, nil
}

// closeWait bounds how long an idle stream we close waits for the peer
// to close its side; stopWait, the same while the server stops.
const (
	closeWait = 10 * time.Second
	stopWait  = 2 * time.Second
)

// closeGracefully ends our stream c as RFC 6120 §4.4 says: it closes our
// side, with the stream error err carries, if any, and reads on until
// the peer closes its side or wait passed, so that what the peer sent
// meanwhile (stanzas over a bidirectional stream, its last
// acknowledgement) is still handled. The peer's bidirectional stream is
// left to the peer.
func (o *outStream) closeGracefully(c *conn, ended <-chan error, err error, wait time.Duration) {
	if o.via != nil {
		return
	}
	if c.closeStream(err, o.p.local) {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-ended:
		case <-timer.C:
		}
	}
	c.end(nil, o.p.local)
}

// end ends our stream c; the peer's bidirectional stream is its reader's
// to end.
func (o *outStream) end(c *conn, err error) {
	if o.via == nil {
		c.end(err, o.p.local)
	}
}

// connect opens and authenticates the stream within the connect timeout.
func (o *outStream) connect() (*conn, error) {
	ctx, cancel := o.s.connectTimeout()
	defer cancel()
	c, id, external, err := o.s.open(ctx, o.p.local, o.p.remote, true)
	if err != nil {
		return nil, err
	}
	if !external {
		if err := o.s.authenticate(c, o.p.local, o.p.remote, id); err != nil {
			c.end(err, o.p.local)
			return nil, err
		}
	}
	c.nc.SetReadDeadline(time.Time{})
	return c, nil
}

// collect returns first and what else is queued, up to maxBatch.
func (o *outStream) collect(first queued) []queued {
	batch := []queued{first}
	for len(batch) < maxBatch {
		select {
		case q := <-o.queue:
			batch = append(batch, q)
		default:
			return batch
		}
	}
	return batch
}

// stanzas returns the stanzas of qs.
func stanzas(qs []queued) []*xmlstream.Element {
	sts := make([]*xmlstream.Element, len(qs))
	for i, q := range qs {
		sts[i] = q.st
	}
	return sts
}

// read reads what the receiving server sends on our stream until it ends
// it: whitespace, a stream error, and on a bidirectional stream
// (XEP-0288) its stanzas from the remote domain to the local one; a
// stanza on a stream that is not ends it.
func (o *outStream) read(c *conn) error {
	var in *inStream // the peer's stanzas, from the pair our stream authenticated
	if c.bidi {
		in = &inStream{s: o.s, c: c, local: o.p.local, verified: map[pair]bool{o.p: true}}
		if o.s.cfg.RateLimit > 0 {
			in.limit = ratelimit.New(o.s.cfg.RateLimit, time.Now())
			c.readHook = in.throttle
		}
	}
	for {
		el, err := c.readElement()
		if err != nil {
			return err
		}
		switch {
		case el.Name.Space == xmlstream.NSStream && el.Name.Local == "error":
			return errors.New(o.p.remote + " sent a stream error: " + describeError(el))
		case in != nil && stanza.IsStanza(el, stanza.NSServer):
			if err := in.stanza(el); err != nil {
				return err
			}
			c.received.count()
			o.lastRead.Store(time.Now().UnixNano())
		case stanza.IsStanza(el, stanza.NSServer):
			// Without bidirectionality the stream carries our stanzas
			// only (XEP-0220 §2.3), and the peer authenticated no domain
			// of its own on it: RFC 6120 §4.9.3.12.
			return streamErr("not-authorized", "this stream is not bidirectional: stanzas from "+o.p.remote+" go over a stream of its own")
		case el.Name.Space == nsSM && el.Name.Local == "r":
			if err := c.received.answer(c); err != nil {
				return err
			}
		case el.Name.Space == nsSM && el.Name.Local == "enable":
			// Ours to ask for, on our stream.
			if err := c.writeElements(smFailed("unexpected-request")); err != nil {
				return err
			}
		case el.Name.Space == nsSM:
			if el.Name.Local == "enabled" && c.enabling.Load() {
				// The peer counts its stanzas from here on, and so do we:
				// as Prosody does, from <enabled/> rather than <enable/>.
				c.received.on.Store(true)
			}
			o.sm.put(el)
		case in != nil && el.Name.Space == nsDialback && el.Name.Local == "result" && !isAnswer(el):
			// The peer would authenticate another of its domains on our
			// stream (XEP-0288 §2.2): it may open a stream of its own.
			if err := c.writeElements(dialbackError("result", el.Attr("to"), el.Attr("from"), "", "cancel", stanza.FeatureNotImplemented)); err != nil {
				return err
			}
		case el.Name.Space == nsDialback:
			// An answer, once our verdict came, answers nothing we ask
			// any more; a request on a stream that is not bidirectional
			// is not ours to answer (XEP-0220 §2.1): dropped, unanswered.
			o.s.log.Debug("s2s dialback: an element on an outgoing stream dropped", "local", o.p.local, "remote", o.p.remote,
				"element", el.Name.Local, "type", el.Attr("type"), "from", el.Attr("from"), "to", el.Attr("to"))
		}
	}
}

// retire removes an idle stream, unless a stanza arrived meanwhile.
func (o *outStream) retire() bool {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	if len(o.queue) > 0 {
		return false
	}
	o.s.removeOut(o)
	return true
}

// close removes the stream: Route no longer finds it, so nothing is
// queued after. retry was written, or about to be, when the stream
// failed: unless sent once before, it goes again over a new stream,
// which takes the queue on, in order. A new stream takes the queue on
// too when this one was ready: stanzas queued as it ended are not its
// failure. Otherwise what waits in the queue is bounced.
func (o *outStream) close(err error, retry []queued) {
	again, failed := sendAgain(retry)
	o.s.mu.Lock()
	if o.s.removeOut(o) {
		if !o.s.stopping && (len(again) > 0 || o.ready && len(o.queue) > 0) {
			o.s.startOut(o.p, o.queue, again)
			o.s.mu.Unlock()
			o.bounce(failed, err)
			return
		}
	}
	o.s.mu.Unlock()
	left := retry
	for {
		select {
		case q := <-o.queue:
			left = append(left, q)
		default:
			o.bounce(left, err)
			return
		}
	}
}

// removeOut removes o, if Route still finds it, and reports whether it
// did. s.mu is held.
func (s *Server) removeOut(o *outStream) bool {
	if s.out[o.p] != o {
		return false
	}
	delete(s.out, o.p)
	if o.via == nil {
		s.dialled--
	}
	return true
}

// sendAgain splits qs into those to send once more, marked so, and those
// sent twice already.
func sendAgain(qs []queued) (again, failed []queued) {
	for _, q := range qs {
		if q.again {
			failed = append(failed, q)
		} else {
			q.again = true
			again = append(again, q)
		}
	}
	return again, failed
}

// bounce answers qs with the error their failed delivery deserves, and
// takes them out of the outbox; while the server stops, the messages in
// the outbox stay there instead, for the next start.
func (o *outStream) bounce(qs []queued, err error) {
	cond := stanza.RemoteServerTimeout
	switch {
	case errors.Is(err, errNoServer):
		cond = stanza.RemoteServerNotFound
	case errors.Is(err, errKeyRefused):
		// XEP-0220 §2.1.1: our key was deemed bogus for the pair.
		cond = stanza.InternalServerError
	}
	o.s.mu.Lock()
	stopping := o.s.stopping
	o.s.mu.Unlock()
	if stopping {
		qs = slices.DeleteFunc(qs, func(q queued) bool { return q.kept != 0 })
	}
	o.s.forget(qs)
	for _, q := range qs {
		o.s.router.Bounce(context.Background(), q.st, cond, "")
	}
}

// stop ends the stream as the server stops.
func (o *outStream) stop() { o.stopOnce.Do(func() { close(o.quit) }) }
