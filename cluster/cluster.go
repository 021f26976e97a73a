package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// Config is what a Cluster needs.
type Config struct {
	// URL is the NATS server, such as nats://127.0.0.1:4222.
	URL string
	// Subject prefixes every subject; nodes with the same prefix form
	// one cluster. Default "xmppd".
	Subject string
	// Heartbeat is how often a node announces itself. Default 1 s.
	Heartbeat time.Duration
	// Timeout is how long a node may stay silent before the others count
	// it as gone. Default 5 heartbeats.
	Timeout time.Duration
	// Limits bound the stanzas read from other nodes.
	Limits xmlstream.Limits
	// Logger receives problems; nil discards them.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Subject == "" {
		c.Subject = "xmppd"
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * c.Heartbeat
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// inboxSize bounds the messages from other nodes waiting to be handled;
// NATS drops what does not fit, and the sequence numbers of the session
// changes make the node ask again for what it missed.
const inboxSize = 1 << 16

// Cluster is this node's membership in a cluster. It is the router's
// Directory, and keeps the router's mirror of the other nodes' sessions.
type Cluster struct {
	cfg     Config
	r       *router.Router
	log     *slog.Logger
	nc      *nats.Conn
	id      string // random, new at every start: a restarted node has no sessions
	started int64  // Unix nanoseconds; the oldest node runs the singletons
	all     string // the subject every node listens to
	inbox   chan *nats.Msg
	seqMu   sync.Mutex
	seq     uint64 // numbers the changes of the local sessions (announce)
	leaving bool   // Close said goodbye: no heartbeat follows; guarded by seqMu

	hold       func(*xmlstream.Element) func() // SetHold; nil holds nothing
	receipts   receipts
	tells      tells                       // ends and revocations until acknowledged (tell.go)
	singletons map[string]*singleton       // by domain; set before Join
	forgetters map[string]func(key string) // by topic; set before Join
	losers     []func()                    // OnLost's; set before Join
	// reconnects is the count of NATS reconnections run last saw; a new
	// one may have lost what the other nodes said meanwhile (forgetLost).
	reconnects uint64
	dropped    atomic.Bool // NATS dropped messages for this node (slow consumer)
	// endResumable is SetResumable's; nil ends nothing.
	endResumable func(previd, account string) (uint32, bool)
	// replace is SetReplace's; nil ends nothing.
	replace func(full jid.JID)

	extMu sync.RWMutex
	ext   externals

	// peers is owned by the run goroutine.
	peers map[string]*peer

	homeMu sync.RWMutex
	home   string   // the node that runs the singletons
	nodes  []string // the nodes known to be up, this one included

	ctx       context.Context // ends with Close
	cancel    context.CancelFunc
	running   bool                 // Join started run
	subs      []*nats.Subscription // Join's, into inbox
	catchUps  chan chan struct{}   // catchUp's: run closes each once it handled the inbox
	leave     chan struct{}        // closed by Close: run handles the inbox and returns
	closeOnce sync.Once
	done      chan struct{} // closed when run returns
}

// peer is another node as this one knows it.
type peer struct {
	id       string
	started  int64 // 0 until a heartbeat or a table tells
	acks     bool  // its heartbeat says it acknowledges what it is told (tell)
	seq      uint64
	heard    time.Time
	asked    time.Time                 // when its table was asked for; zero when none is awaited
	sessions map[string]*remoteSession // by full JID
}

// New connects to NATS for r's node. Join makes it a member.
func New(cfg Config, r *router.Router) (*Cluster, error) {
	cfg.defaults()
	if cfg.URL == "" {
		return nil, errors.New("cluster: no NATS URL")
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, r: r, log: cfg.Logger, id: hex.EncodeToString(id[:]),
		started: time.Now().UnixNano(), all: cfg.Subject + ".all",
		inbox: make(chan *nats.Msg, inboxSize), peers: map[string]*peer{},
		receipts:   receipts{pending: map[uint64]*held{}, bySent: map[sent]uint64{}},
		tells:      tells{pending: map[string]*told{}, seen: map[string]time.Time{}},
		singletons: map[string]*singleton{}, forgetters: map[string]func(string){},
		catchUps: make(chan chan struct{}), leave: make(chan struct{}), done: make(chan struct{}),
		ext: externals{held: map[string]func(context.Context, *xmlstream.Element){}, holders: map[string]string{}}}
	c.home, c.nodes = c.id, []string{c.id}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	nc, err := nats.Connect(cfg.URL,
		nats.Name("xmppd "+c.id),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.Heartbeat),
		nats.FlusherTimeout(cfg.Timeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				c.log.Warn("cluster: lost NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { c.log.Info("cluster: NATS is back") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			// Such as a slow consumer: messages from other nodes were dropped.
			if errors.Is(err, nats.ErrSlowConsumer) {
				c.dropped.Store(true)
			}
			c.log.Error("cluster: NATS", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to NATS at %s: %w", cfg.URL, err)
	}
	c.nc = nc
	return c, nil
}

// ID returns this node's name in the cluster.
func (c *Cluster) ID() string { return c.id }

func (c *Cluster) nodeSubject(id string) string { return c.cfg.Subject + ".node." + id }

// Join subscribes, becomes the router's directory, asks the other nodes
// for their tables and waits two heartbeats for them to answer, so that
// the node knows the cluster's sessions before it serves clients.
func (c *Cluster) Join(ctx context.Context) error {
	for _, subject := range []string{c.all, c.nodeSubject(c.id)} {
		sub, err := c.nc.ChanSubscribe(subject, c.inbox)
		if err != nil {
			return fmt.Errorf("cluster: subscribing to %s: %w", subject, err)
		}
		c.subs = append(c.subs, sub)
	}
	c.r.SetDirectory(c)
	c.publish(message(c.all, opSync, nil, "node", c.id))
	c.beat()
	c.running = true
	go c.run()
	go c.beating()
	select {
	case <-time.After(2 * c.cfg.Heartbeat):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops listening to the other nodes, handles what had arrived
// from them, then tells them that this node leaves and disconnects. The
// local sessions should be gone by then: their departures are announced
// as they end. A stanza that arrived for one of them is routed as for
// any ended session (stored offline) and said to be safe before the
// goodbye, so that its sender's node, which routes again what it still
// holds for a node that leaves, does not store it a second time; one that
// arrives after this node stopped listening is left to its sender's node.
// When ctx ends first, what has not been handled is dropped (it waits on
// a slow database, say), and the node leaves at once.
func (c *Cluster) Close(ctx context.Context) { c.closeOnce.Do(func() { c.close(ctx) }) }

func (c *Cluster) close(ctx context.Context) {
	if c.running {
		c.stopListening()
		close(c.leave)
		select {
		case <-c.done:
		case <-ctx.Done():
			c.log.Warn("cluster: leaving before what had arrived was handled", "err", ctx.Err())
			c.cancel()
			<-c.done
		}
	}
	c.seqMu.Lock()
	c.leaving = true // a heartbeat after the goodbye would make the node met again
	c.seqMu.Unlock()
	c.publish(message(c.all, opBye, nil, "node", c.id))
	if err := c.nc.Flush(); err != nil {
		c.log.Warn("cluster: announcing departure", "err", err)
	}
	c.cancel()
	c.nc.Close()
}

// stopListening takes into the inbox what NATS has sent this node so
// far, then unsubscribes: nothing arrives in the inbox afterwards.
func (c *Cluster) stopListening() {
	if err := c.nc.FlushTimeout(c.cfg.Timeout); err != nil {
		c.log.Warn("cluster: taking in the last messages from other nodes", "err", err)
	}
	for _, sub := range c.subs {
		if err := sub.Unsubscribe(); err != nil {
			c.log.Warn("cluster: unsubscribing", "subject", sub.Subject, "err", err)
		}
	}
}

func (c *Cluster) publish(m *nats.Msg) error {
	err := c.nc.PublishMsg(m)
	if err != nil {
		c.log.Warn("cluster: publishing", "op", m.Header.Get("op"), "subject", m.Subject, "err", err)
	}
	return err
}

// run handles the other nodes' messages, one at a time and in their
// order of arrival: the changes of one node's sessions, and the stanzas it
// sent after them, keep their order. At each heartbeat it counts the
// silent nodes as gone, after handling what had arrived by then: a
// heartbeat waiting behind a slow step is not silence. When Close has
// the node leave, it handles what had arrived and returns.
func (c *Cluster) run() {
	defer close(c.done)
	tick := time.NewTicker(c.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case m := <-c.inbox:
			c.handle(m)
		case <-tick.C:
			c.forgetLost()
			c.handleArrived()
			c.expire()
			c.tellAgain()
		case done := <-c.catchUps:
			c.handleArrived()
			close(done)
		case <-c.leave:
			c.handleArrived()
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// handleArrived handles the messages waiting in the inbox, and not those
// that arrive meanwhile.
func (c *Cluster) handleArrived() {
	for n := len(c.inbox); n > 0 && c.ctx.Err() == nil; n-- {
		c.handle(<-c.inbox)
	}
}

// catchUp returns once run has handled what had arrived from the other
// nodes when it was called, or when ctx ends.
func (c *Cluster) catchUp(ctx context.Context) {
	done := make(chan struct{})
	select {
	case c.catchUps <- done:
	case <-ctx.Done():
		return
	case <-c.done:
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// beating announces the node every heartbeat on its own goroutine, so
// that a slow step of run (a database write that waits) does not make the
// other nodes count this one, and its sessions, as gone.
func (c *Cluster) beating() {
	tick := time.NewTicker(c.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			c.beat()
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Cluster) beat() {
	c.seqMu.Lock()
	defer c.seqMu.Unlock()
	if c.leaving {
		return
	}
	c.publish(message(c.all, opBeat, nil, "node", c.id,
		"started", strconv.FormatInt(c.started, 10), "seq", strconv.FormatUint(c.seq, 10), "held", c.heldList(), "acks", "1"))
}

// handle acts on one message from another node.
func (c *Cluster) handle(m *nats.Msg) {
	c.forgetLost()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	var err error
	switch op := m.Header.Get("op"); op {
	case opBeat:
		p := c.peer(m.Header.Get("node"), true)
		p.started, p.acks = headerInt(m, "started"), m.Header.Get("acks") != ""
		c.elect()
		c.learnHeld(p.id, m.Header.Get("held"))
		if seq := headerUint(m, "seq"); seq > p.seq && (p.asked.IsZero() || time.Since(p.asked) > c.cfg.Timeout) {
			c.askTable(p)
		}
	case opBye:
		c.drop(ctx, m.Header.Get("node"), false)
	case opSet, opDel:
		err = c.change(m)
	case opSync:
		c.sendTable(m.Header.Get("node"))
	case opTable:
		err = c.table(m)
	case opDeliver:
		err = c.deliver(ctx, m)
	case opSafe:
		c.settle(m.Header.Get("receipt"))
	case opEnd:
		if c.firstHeard(m) {
			err = c.end(m)
		}
	case opComponent:
		err = c.component(ctx, m)
	case opExternal:
		err = c.external(ctx, m)
	case opEndResumable:
		c.answerEndResumable(m)
	case opReplace:
		err = c.answerReplace(m)
	case opAck:
		c.acknowledged(m)
	case opForget:
		if f := c.forgetters[m.Header.Get("topic")]; c.firstHeard(m) && f != nil {
			f(m.Header.Get("key"))
		}
	default:
		err = fmt.Errorf("cluster: unknown operation %q", op)
	}
	if err != nil {
		c.log.Warn("cluster: a message from another node", "op", m.Header.Get("op"), "err", err)
	}
}

// peer returns the node id, meeting it if it is new: with ask, a node
// met by any message, not only its heartbeat, is asked for its table.
func (c *Cluster) peer(id string, ask bool) *peer {
	p := c.peers[id]
	if p == nil {
		p = &peer{id: id, sessions: map[string]*remoteSession{}}
		c.peers[id] = p
		c.log.Info("cluster: met a node", "node", id)
		if ask {
			c.askTable(p)
		}
	}
	p.heard = time.Now()
	return p
}

func (c *Cluster) askTable(p *peer) {
	p.asked = time.Now()
	c.publish(message(c.nodeSubject(p.id), opSync, nil, "node", c.id))
}

// expire drops the nodes not heard from within the timeout. The oldest
// node left announces their sessions' departure.
func (c *Cluster) expire() {
	for id, p := range c.peers {
		if time.Since(p.heard) > c.cfg.Timeout {
			c.log.Warn("cluster: a node stopped answering; its sessions are gone", "node", id, "sessions", len(p.sessions))
			c.drop(c.ctx, id, true)
		}
	}
}

// drop forgets the node id and its sessions, and routes again what was
// held for them. With announce, the oldest node left tells their
// contacts that they are gone.
func (c *Cluster) drop(ctx context.Context, id string, announce bool) {
	p := c.peers[id]
	if p == nil {
		return
	}
	delete(c.peers, id)
	c.learnHeld(id, "")
	c.elect()
	c.unmirrorAll(p, announce && c.homeNode() == c.id)
	c.reroute(ctx, id)
}

// elect makes the oldest node known the home of the singletons.
func (c *Cluster) elect() {
	home, started := c.id, c.started
	for _, p := range c.peers {
		if p.started != 0 && (p.started < started || p.started == started && p.id < home) {
			home, started = p.id, p.started
		}
	}
	nodes := []string{c.id}
	for id := range c.peers {
		nodes = append(nodes, id)
	}
	c.homeMu.Lock()
	moved := c.home != home
	c.home, c.nodes = home, nodes
	c.homeMu.Unlock()
	if !moved {
		return
	}
	c.log.Info("cluster: singletons run on another node", "node", home, "self", home == c.id)
	if home != c.id {
		for _, s := range c.singletons {
			s.unload()
		}
	}
}

// Nodes returns the ids of the nodes this one knows to be up, itself
// included, and whether this node is the oldest of them, the one that
// runs the singletons and takes over what a node that is gone left.
func (c *Cluster) Nodes() (ids []string, home bool) {
	c.homeMu.RLock()
	defer c.homeMu.RUnlock()
	return slices.Clone(c.nodes), c.home == c.id
}

// Timeout is how long a node may stay silent before it counts as gone.
func (c *Cluster) Timeout() time.Duration { return c.cfg.Timeout }

func (c *Cluster) homeNode() string {
	c.homeMu.RLock()
	defer c.homeMu.RUnlock()
	return c.home
}
