package muc

import (
	"context"
	"log/slog"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// relayQueue bounds the stanzas waiting in the relay.
const relayQueue = 10000

// relay routes what rooms send to occupants of other servers, in the
// order it was queued, on a goroutine of its own. Rooms queue under
// their lock, and the router may answer a stanza it cannot pass on (no
// federation, a full queue for that server) with an error to the room,
// which then takes the same lock.
type relay struct {
	r     *router.Router
	log   *slog.Logger
	queue chan *xmlstream.Element
	done  chan struct{} // closed when run returns

	mu     sync.RWMutex // guards closed against sends to queue
	closed bool
}

func newRelay(r *router.Router, log *slog.Logger) *relay {
	return &relay{r: r, log: log, queue: make(chan *xmlstream.Element, relayQueue), done: make(chan struct{})}
}

// run routes what is queued until close.
func (rl *relay) run() {
	defer close(rl.done)
	for st := range rl.queue {
		rl.r.Route(context.Background(), st)
	}
}

// send queues st, addressed to an occupant of another server, and
// reports whether it was queued: not when the queue is full or closed.
func (rl *relay) send(st *xmlstream.Element) bool {
	rl.mu.RLock()
	defer rl.mu.RUnlock()
	if rl.closed {
		return false
	}
	select {
	case rl.queue <- st:
		return true
	default:
		rl.log.Warn("muc: dropping a stanza for an occupant of another server: too many are waiting", "to", st.Attr("to"))
		return false
	}
}

// close routes what is queued and stops.
func (rl *relay) close() {
	rl.mu.Lock()
	if !rl.closed {
		rl.closed = true
		close(rl.queue)
	}
	rl.mu.Unlock()
	<-rl.done
}

// send queues st, addressed to j, for the occupant session j: a session
// of this server (or of another node of its cluster) takes it at once,
// unless the user's filters (their blocklist) stop it, one of another
// server gets it through the relay. It reports whether st was queued,
// or stopped on purpose.
func (s *Service) send(j jid.JID, st *xmlstream.Element) bool {
	return s.sendFrom(sender(st), j, st)
}

// sendFrom is send for st from from, its 'from', parsed once for a
// broadcast.
func (s *Service) sendFrom(from, j jid.JID, st *xmlstream.Element) bool {
	if s.r.IsLocal(j.Domainpart()) {
		return s.screen.deliver(from, j, st)
	}
	return s.relay.send(st)
}

// sender returns the 'from' of st, which the room set.
func sender(st *xmlstream.Element) jid.JID {
	from, _ := jid.Parse(st.Attr("from"))
	return from
}

// route routes st, from the service or one of its rooms: through the
// relay when it is for another server, so that it keeps its place after
// what the relay holds for the same user (the archive's results before
// the answer to the query).
func (s *Service) route(ctx context.Context, st *xmlstream.Element) {
	if to, err := jid.Parse(st.Attr("to")); err == nil && !s.r.IsLocal(to.Domainpart()) {
		s.relay.send(st)
		return
	}
	s.r.Route(ctx, st)
}
