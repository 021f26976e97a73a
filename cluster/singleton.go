package cluster

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// maxHops bounds how often a stanza for a singleton is forwarded while
// the nodes disagree on which one runs it: the last node serves it.
const maxHops = 2

// singleton is a component that runs on the home node alone.
type singleton struct {
	c    *Cluster
	comp router.Component
	load func(context.Context) error

	mu     sync.Mutex
	loaded bool // load ran since this node became home
}

// Singleton returns comp, the component of domain, as one that runs on
// one node of the cluster at a time, the oldest: the others forward its
// stanzas there. load is called on a node before it serves comp, each
// time it becomes that node, to read the state the previous one left in
// the database. Call it before Join.
func (c *Cluster) Singleton(domain string, comp router.Component, load func(context.Context) error) router.Component {
	s := &singleton{c: c, comp: comp, load: load}
	c.singletons[domain] = s
	return s
}

// Route serves st here on the home node, or forwards it there.
func (s *singleton) Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	s.route(ctx, from, to, st, 0)
}

func (s *singleton) route(ctx context.Context, from, to jid.JID, st *xmlstream.Element, hops int) {
	if home := s.c.homeNode(); home != s.c.id && hops < maxHops {
		s.c.publish(message(s.c.nodeSubject(home), opComponent, encodeStanza(st),
			"from", from.String(), "to", to.String(), "hops", strconv.Itoa(hops+1)))
		return
	}
	if err := s.ready(ctx); err != nil {
		s.c.log.Error("cluster: loading a service", "domain", to.Domainpart(), "err", err)
		s.c.r.Bounce(ctx, st, stanza.InternalServerError, "the service could not be loaded")
		return
	}
	s.comp.Route(ctx, from, to, st)
}

// ready loads the component's state once this node became its home.
func (s *singleton) ready(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		return nil
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	s.loaded = true
	return nil
}

// unload has a node that stopped being the home load again when it
// becomes it once more.
func (s *singleton) unload() {
	s.mu.Lock()
	s.loaded = false
	s.mu.Unlock()
}

// component serves a stanza another node forwarded to a singleton.
func (c *Cluster) component(ctx context.Context, m *nats.Msg) error {
	from, err := headerJID(m, "from")
	if err != nil {
		return err
	}
	to, err := headerJID(m, "to")
	if err != nil {
		return err
	}
	s := c.singletons[to.Domainpart()]
	if s == nil {
		return fmt.Errorf("cluster: no service %s here", to.Domainpart())
	}
	st, err := xmlstream.ParseElement(m.Data, c.cfg.Limits)
	if err != nil {
		return fmt.Errorf("cluster: stanza for %s: %w", to, err)
	}
	s.route(ctx, from, to, st, int(headerInt(m, "hops")))
	return nil
}
