package c2s

import (
	"sync/atomic"

	"xmppd/xmlstream"
)

// A receipt follows one stanza a stream-managed client sent until it is
// safe, so that the server's <a h/> acknowledges only safe stanzas
// (DESIGN.md §4). Routing is synchronous: when router.FromClient returns,
// the stanza was answered, committed to PostgreSQL (offline storage), or
// queued in memory for sessions. An in-memory queue does not survive
// kill -9, so a copy queued for a stream-managed session holds the
// receipt until that session's client acknowledges it, or until the
// session ends and routes it again (to offline storage). Copies queued for
// sessions without stream management are as safe as the server can make
// them once queued, and so are copies an inactive client's session holds
// back (csi.go).
//
// The router hands the very element the sender's reader routes to
// Session.Deliver, on the same goroutine, so the element identifies its
// receipt: Server.tracking maps it while it is being routed.
//
// A stanza the server itself delivers with Session.DeliverSafe, such as a
// stored offline message, has a receipt too: safe is called instead of
// advancing a sender's count.
type receipt struct {
	s       *Session // the sender
	seq     uint32   // the stanza's number in the sender's inbound count
	epoch   uint32   // the sender's count's epoch (smState.epoch) then
	onSafe  func()   // instead of s and seq, for DeliverSafe
	pending atomic.Int32
}

// done releases one hold; the last makes the stanza safe.
func (rc *receipt) done() {
	if rc == nil || rc.pending.Add(-1) != 0 {
		return
	}
	if rc.onSafe != nil {
		rc.onSafe()
	} else {
		rc.s.safe(rc.seq, rc.epoch)
	}
}

// safe records that the sender's stanza seq of epoch is safe and
// advances the acknowledged count over every stanza that is safe in
// order. An <a/> the client asked for while stanzas were still pending is
// sent once they are safe. A stanza counted before a resumption that
// rewound the count (attach) counts no more.
func (s *Session) safe(seq, epoch uint32) {
	s.mu.Lock()
	if epoch != s.sm.epoch {
		s.mu.Unlock()
		return
	}
	if seq == s.sm.handled+1 && len(s.sm.ahead) == 0 {
		s.sm.handled = seq
	} else {
		if s.sm.ahead == nil {
			s.sm.ahead = map[uint32]struct{}{}
		}
		s.sm.ahead[seq] = struct{}{}
		for {
			if _, ok := s.sm.ahead[s.sm.handled+1]; !ok {
				break
			}
			delete(s.sm.ahead, s.sm.handled+1)
			s.sm.handled++
		}
	}
	var start bool
	if s.sm.owed && int32(s.sm.handled-s.sm.owedUntil) >= 0 && !s.closing {
		s.sm.owed = false
		s.queue = append(s.queue, outItem{frame: smAck(s.sm.handled)})
		start = s.startWriterLocked()
	}
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// routeTracked routes el through route while copies delivered to
// stream-managed sessions join rc.
func (srv *Server) routeTracked(el any, rc *receipt, route func()) {
	if rc == nil {
		route()
		return
	}
	srv.tracking.Store(el, rc)
	route()
	srv.tracking.Delete(el)
}

// receiptFor returns the receipt of the element being delivered, with a
// hold added for the caller, or nil.
func (srv *Server) receiptFor(el any) *receipt {
	v, ok := srv.tracking.Load(el)
	if !ok {
		return nil
	}
	rc := v.(*receipt)
	rc.pending.Add(1)
	return rc
}

// Hold adds a hold to the receipt of st, a stanza a stream-managed client
// sent that is being routed, and returns what releases it; nil when st
// has no receipt. A cluster holds a stanza it hands to another node until
// that node says it is safe (router.SafeSession).
func (srv *Server) Hold(st *xmlstream.Element) (release func()) {
	if rc := srv.receiptFor(st); rc != nil {
		return rc.done
	}
	return nil
}
