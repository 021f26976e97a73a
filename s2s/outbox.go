package s2s

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"xmppd/offline"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Outbox keeps the messages for other servers from the moment a local
// client's stream acknowledges them until they are written to the remote
// server's stream, so that neither a crash nor a restart loses them.
type Outbox interface {
	// Add keeps stanza, from the local domain to the remote one, as held
	// by claimer, and returns its id once it is committed.
	Add(ctx context.Context, claimer, local, remote string, stanza []byte) (int64, error)
	// Remove deletes the messages ids: they were sent or bounced.
	Remove(ctx context.Context, ids []int64) error
	// Claim makes claimer the holder of the messages held by none of
	// live that were kept at least olderThan ago, and returns them in
	// the order they were kept.
	Claim(ctx context.Context, claimer string, live []string, olderThan time.Duration) ([]Kept, error)
}

// Kept is a message an Outbox holds.
type Kept struct {
	ID            int64
	Local, Remote string
	Stanza        []byte
}

// outboxTimeout bounds each use of the outbox.
const outboxTimeout = 10 * time.Second

// queued is a stanza waiting for its stream, with its id in the outbox,
// or 0 when it is not kept there; again is true once it went over a
// stream that broke before the peer acknowledged it.
type queued struct {
	st    *xmlstream.Element
	kept  int64
	again bool
}

// newClaimer returns a name for this process's hold on outbox messages.
func newClaimer() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Claimer is the name under which the outbox holds this server's
// messages: Config.Claimer, or one made up at start.
func (s *Server) Claimer() string { return s.cfg.Claimer }

// worthKeeping reports whether st should survive a crash on its way: what
// offline storage would keep, a chat or normal message that carries more
// than a chat state and does not ask not to be stored (XEP-0334). Room
// messages are in the room's archive, and headlines (PEP notifications)
// are of the moment.
func worthKeeping(st *xmlstream.Element) bool {
	if st.Name.Local != stanza.Message || st.Child(offline.NSHints, "no-store") != nil {
		return false
	}
	if typ := stanza.Type(st); typ != "chat" && typ != "normal" {
		return false
	}
	return st.Child(offline.NSHints, "store") != nil || offline.WorthStoring(st)
}

// keep adds st to the outbox when it is worth keeping; false means it
// could not be kept and was bounced.
func (s *Server) keep(ctx context.Context, p pair, st *xmlstream.Element) (queued, bool) {
	q := queued{st: st}
	if s.cfg.Outbox == nil || !worthKeeping(st) {
		return q, true
	}
	ctx, cancel := context.WithTimeout(ctx, outboxTimeout)
	defer cancel()
	id, err := s.cfg.Outbox.Add(ctx, s.cfg.Claimer, p.local, p.remote, st.Append(nil, ""))
	if err != nil {
		s.log.Error("s2s: keeping a message for another server", "err", err)
		s.router.Bounce(ctx, st, stanza.InternalServerError, "the message could not be kept for "+p.remote)
		return q, false
	}
	q.kept = id
	return q, true
}

// forget removes from the outbox those of qs that are kept there, once
// they were written or bounced. A failure is logged: they will be sent
// again after a restart.
func (s *Server) forget(qs []queued) {
	var ids []int64
	for _, q := range qs {
		if q.kept != 0 {
			ids = append(ids, q.kept)
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	if err := s.cfg.Outbox.Remove(ctx, ids); err != nil {
		s.log.Error("s2s: sent messages stay in the outbox and will be sent again after a restart", "err", err)
	}
}

// Resume queues the messages the outbox keeps for a claimer not in live,
// kept at least olderThan ago: those of a process that crashed or
// stopped, or of a cluster node that is gone. A single server calls it
// once at start with itself as live.
func (s *Server) Resume(ctx context.Context, live []string, olderThan time.Duration) error {
	if s.cfg.Outbox == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, outboxTimeout)
	defer cancel()
	kept, err := s.cfg.Outbox.Claim(ctx, s.cfg.Claimer, live, olderThan)
	if err != nil {
		return err
	}
	if len(kept) > 0 {
		s.log.Info("s2s: sending the messages kept before a restart", "messages", len(kept))
	}
	byPair := map[pair][]queued{}
	var pairs []pair
	for _, k := range kept {
		p := pair{local: k.Local, remote: k.Remote}
		st, err := xmlstream.ParseStored(k.Stanza)
		if err == nil && !s.router.Serves(p.local) {
			err = fmt.Errorf("%s is no longer served here", p.local)
		}
		if err != nil {
			s.log.Error("s2s: dropping a kept message", "id", k.ID, "from", p.local, "to", p.remote, "err", err)
			s.forget([]queued{{kept: k.ID}})
			continue
		}
		if byPair[p] == nil {
			pairs = append(pairs, p)
		}
		byPair[p] = append(byPair[p], queued{st: st, kept: k.ID})
	}
	for _, p := range pairs {
		s.resume(ctx, p, byPair[p])
	}
	return nil
}

// resume queues qs, kept messages for p, in order. With no stream for p
// yet, as at start, the stream's queue is made to hold them all besides
// QueueSize others: more may have been kept than a queue holds (up to
// maxUnacked written and not acknowledged, and a queue more), and none
// is to bounce for want of room before the stream even connected.
func (s *Server) resume(ctx context.Context, p pair, qs []queued) {
	s.mu.Lock()
	if !s.stopping && s.out[p] == nil {
		s.startOut(p, make(chan queued, len(qs)+s.cfg.QueueSize), nil)
	}
	s.mu.Unlock()
	for _, q := range qs {
		s.enqueue(ctx, p, q)
	}
}
