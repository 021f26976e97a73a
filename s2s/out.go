package s2s

import (
	"context"
	"errors"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// maxBatch is the most queued stanzas written at once.
const maxBatch = 64

// outStream is our stream from one local domain to one remote domain:
// stanzas wait in its queue while it connects, and go out in order.
type outStream struct {
	s        *Server
	p        pair
	queue    chan *xmlstream.Element
	quit     chan struct{}
	stopOnce sync.Once
}

// Route queues st, from a local domain, for the stream to its recipient's
// domain, opening the stream if there is none. It never waits for the
// network; a stanza that cannot go is bounced to its sender.
func (s *Server) Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	p := pair{local: from.Domainpart(), remote: to.Domainpart()}
	if !s.router.Serves(p.local) {
		s.log.Warn("s2s: not relaying a stanza from another server", "from", from.String(), "to", to.String())
		return
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		s.router.Bounce(ctx, st, stanza.RemoteServerTimeout, "the server is stopping")
		return
	}
	o := s.out[p]
	if o == nil {
		o = &outStream{s: s, p: p, queue: make(chan *xmlstream.Element, s.cfg.QueueSize), quit: make(chan struct{})}
		s.out[p] = o
		s.wg.Add(1)
		go o.run()
	}
	queued := false
	select {
	case o.queue <- st:
		queued = true
	default:
	}
	s.mu.Unlock()
	if !queued {
		s.router.Bounce(ctx, st, stanza.ResourceConstraint, "too many stanzas are waiting for "+p.remote)
	}
}

// run connects, authenticates and then writes queued stanzas until the
// stream idles out, fails or the server stops.
func (o *outStream) run() {
	defer o.s.wg.Done()
	c, err := o.connect()
	if err != nil {
		o.s.log.Info("s2s outgoing stream failed", "local", o.p.local, "remote", o.p.remote, "err", err)
		o.close(err)
		return
	}
	o.s.log.Info("s2s outgoing stream authenticated", "local", o.p.local, "remote", o.p.remote)
	readDone := make(chan error, 1)
	go func() { readDone <- o.read(c) }()
	idle := time.NewTimer(o.s.cfg.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case st := <-o.queue:
			batch := o.collect(st)
			if err := c.writeElements(batch...); err != nil {
				c.end(err, o.p.local)
				o.bounce(batch, err)
				o.close(err)
				return
			}
			idle.Reset(o.s.cfg.IdleTimeout)
		case <-idle.C:
			if o.retire() {
				c.end(nil, o.p.local)
				return
			}
			idle.Reset(o.s.cfg.IdleTimeout)
		case err := <-readDone:
			c.end(err, o.p.local)
			o.close(err)
			return
		case <-o.quit:
			c.end(streamErr("system-shutdown", "the server is stopping"), o.p.local)
			o.close(errors.New("the server is stopping"))
			return
		}
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
func (o *outStream) collect(first *xmlstream.Element) []*xmlstream.Element {
	batch := []*xmlstream.Element{first}
	for len(batch) < maxBatch {
		select {
		case st := <-o.queue:
			batch = append(batch, st)
		default:
			return batch
		}
	}
	return batch
}

// read reads what the receiving server sends on our stream: nothing but
// whitespace until it ends the stream, or a stream error.
func (o *outStream) read(c *conn) error {
	for {
		el, err := c.readElement()
		if err != nil {
			return err
		}
		if el.Name.Space == xmlstream.NSStream && el.Name.Local == "error" {
			return errors.New(o.p.remote + " sent a stream error: " + describeError(el))
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
	if o.s.out[o.p] == o {
		delete(o.s.out, o.p)
	}
	return true
}

// close removes the stream and bounces what still waits in its queue:
// Route no longer finds it, so nothing is queued after.
func (o *outStream) close(err error) {
	o.s.mu.Lock()
	if o.s.out[o.p] == o {
		delete(o.s.out, o.p)
	}
	o.s.mu.Unlock()
	var left []*xmlstream.Element
	for {
		select {
		case st := <-o.queue:
			left = append(left, st)
		default:
			o.bounce(left, err)
			return
		}
	}
}

// bounce answers sts with the error their failed delivery deserves.
func (o *outStream) bounce(sts []*xmlstream.Element, err error) {
	cond := stanza.RemoteServerTimeout
	if errors.Is(err, errNoServer) {
		cond = stanza.RemoteServerNotFound
	}
	for _, st := range sts {
		o.s.router.Bounce(context.Background(), st, cond, "")
	}
}

// stop ends the stream as the server stops.
func (o *outStream) stop() { o.stopOnce.Do(func() { close(o.quit) }) }
