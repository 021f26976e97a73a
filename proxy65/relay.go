package proxy65

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"xmppd/internal/accept"
	"xmppd/internal/clientaddr"
)

// Errors of Relay.Activate.
var (
	// ErrNoStream: no connection is waiting with that address.
	ErrNoStream = errors.New("no connection waits for this bytestream")
	// ErrOneSide: only one of the two parties is connected.
	ErrOneSide = errors.New("only one party of the bytestream is connected")
)

// RelayConfig is what a Relay needs.
type RelayConfig struct {
	// HandshakeTimeout bounds the SOCKS5 negotiation of a connection.
	// Default 10 s.
	HandshakeTimeout time.Duration
	// WaitTimeout bounds how long a connection waits for its
	// bytestream's activation. Default 2 min.
	WaitTimeout time.Duration
	// MaxWaiting bounds the bytestreams waiting for activation; more are
	// refused. Default 1000.
	MaxWaiting int
	// MaxPerAddress bounds the connections from one IP address (one
	// IPv6 /64, clientaddr.Key) that are not relaying yet (negotiating or
	// waiting). Default 32.
	MaxPerAddress int
	// IdleTimeout ends an activated bytestream that carried nothing in
	// either direction for this long. Default 5 min.
	IdleTimeout time.Duration
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Relay is the SOCKS5 side of the proxy: it takes the two connections of
// each bytestream, which name it by the same address, and joins them
// when the bytestream is activated. Each connection is served by a
// goroutine of its own, which after activation copies what its party
// sends to the other party.
type Relay struct {
	cfg  RelayConfig
	log  *slog.Logger
	stop chan struct{} // closed by Shutdown

	mu        sync.Mutex
	waiting   map[string]*pair // by address
	preparing map[string]int   // connections not relaying yet, by remote IP

	conns accept.Group[*conn]
}

// pair is the connections of one bytestream: the one that came first
// (the target's) and the second (the initiator's).
type pair struct {
	first, second *conn
	timer         *time.Timer
	start         chan struct{} // closed at activation
	abort         chan struct{} // closed when the wait expired
	active        atomic.Int64  // Unix nanoseconds of the last bytes relayed
}

// other returns the connection of p that is not c.
func (p *pair) other(c *conn) *conn {
	if c == p.first {
		return p.second
	}
	return p.first
}

// conn is one connection to the relay.
type conn struct {
	net.Conn
	r     *bufio.Reader // holds what the party sent before activation
	ip    string        // clientaddr.Key of its remote address
	ended chan struct{} // closed when it is done relaying, or its goroutine is, once paired
}

// NewRelay returns a relay for cfg.
func NewRelay(cfg RelayConfig) *Relay {
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 2 * time.Minute
	}
	if cfg.MaxWaiting == 0 {
		cfg.MaxWaiting = 1000
	}
	if cfg.MaxPerAddress == 0 {
		cfg.MaxPerAddress = 32
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{cfg: cfg, log: log, stop: make(chan struct{}), waiting: map[string]*pair{}, preparing: map[string]int{}}
}

// Serve accepts connections on l until Shutdown.
func (r *Relay) Serve(l net.Listener) error {
	return r.conns.Serve(l, func(nc net.Conn) *conn {
		// Counted as every per-client limit counts: an IPv6 /64 is one client.
		ip := clientaddr.Key(nc.RemoteAddr().String())
		return &conn{Conn: nc, r: bufio.NewReaderSize(nc, 512), ip: ip, ended: make(chan struct{})}
	}, r.serve)
}

// Shutdown stops accepting connections and closes every one, waiting
// until they are done or ctx ends.
func (r *Relay) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.mu.Unlock()
	r.conns.Stop(func(c *conn) { c.Close() })
	return r.conns.Wait(ctx)
}

// serve negotiates SOCKS5 on c, has it wait for its bytestream's
// activation, then copies what c's party sends to the other party until
// its end of stream, which the other party then reads, and stays until
// the other direction ended too. A connection that fails, or leaves
// before activation, ends its bytestream.
func (r *Relay) serve(c *conn) {
	defer c.Close()
	if !r.admit(c) {
		return
	}
	defer r.release(c)
	c.SetDeadline(time.Now().Add(r.cfg.HandshakeTimeout))
	addr, err := handshake(c)
	if err != nil {
		r.log.Debug("proxy65: refused a connection", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	p := r.wait(addr, c)
	if p == nil {
		reply(c, replyFailure, addr)
		return
	}
	ended := sync.OnceFunc(func() { close(c.ended) })
	defer ended()
	if reply(c, replyOK, addr) != nil {
		r.leave(addr, p, c)
		return
	}
	c.SetDeadline(time.Time{})
	// A party that leaves before activation gives up its place; what it
	// sends meanwhile stays in c.r for the other party.
	left := make(chan error, 1)
	go func() {
		_, err := c.r.Peek(1)
		left <- err
	}()
	sent := false
	for activated := false; !activated; {
		select {
		case <-p.start:
			activated = true
		case err := <-left:
			if err != nil {
				r.leave(addr, p, c)
				return
			}
			sent, left = true, nil
		case <-p.abort:
			return
		case <-r.stop:
			return
		}
	}
	r.release(c)
	if !sent {
		// Until the party sends or leaves: c.r is not read twice at once.
		// A party silent for IdleTimeout ends the wait too, and copy then
		// tells whether the other direction kept the bytestream busy.
		c.SetReadDeadline(time.Now().Add(r.cfg.IdleTimeout))
		<-left
	}
	peer := p.other(c)
	err = r.copy(peer.Conn, c, p)
	// The peer may be waiting for this direction's end as this goroutine
	// waits for its: waiting for the peer's goroutine to be done would
	// hold both connections forever.
	ended()
	tc, ok := peer.Conn.(*net.TCPConn)
	if err != nil || !ok || tc.CloseWrite() != nil {
		peer.Close() // a failed direction ends the other too
		return
	}
	select {
	case <-peer.ended:
	case <-r.stop:
	}
}

// copy relays what c's party sends to dst until it ends its side, or
// until neither direction of p carried anything for IdleTimeout.
func (r *Relay) copy(dst net.Conn, c *conn, p *pair) error {
	p.active.Store(time.Now().UnixNano())
	buf := make([]byte, 32<<10)
	for {
		c.SetReadDeadline(time.Now().Add(r.cfg.IdleTimeout))
		n, err := c.r.Read(buf)
		if n > 0 {
			p.active.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		var ne net.Error
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, p.active.Load())) < r.cfg.IdleTimeout:
			// The other direction is busy: a one-way transfer.
		case err != nil:
			return err
		}
	}
}

// admit counts c among the connections of its address that are not
// relaying yet, unless there are too many.
func (r *Relay) admit(c *conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.preparing[c.ip] >= r.cfg.MaxPerAddress {
		r.log.Debug("proxy65: too many connections from one address", "ip", c.ip)
		return false
	}
	r.preparing[c.ip]++
	return true
}

// release takes c out of the count of admit, once.
func (r *Relay) release(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.ip == "" {
		return
	}
	if r.preparing[c.ip]--; r.preparing[c.ip] == 0 {
		delete(r.preparing, c.ip)
	}
	c.ip = ""
}

// wait puts c with the other connection of addr and returns their pair;
// nil when c is refused: a third connection (one target per bytestream,
// XEP-0065 §8.1), or the first of one bytestream too many. A pair not
// activated in time is aborted.
func (r *Relay) wait(addr string, c *conn) *pair {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.waiting[addr]
	switch {
	case p == nil && len(r.waiting) >= r.cfg.MaxWaiting:
		r.log.Warn("proxy65: too many bytestreams wait for activation", "waiting", len(r.waiting))
		return nil
	case p == nil:
		p = &pair{first: c, start: make(chan struct{}), abort: make(chan struct{})}
		r.waiting[addr] = p
		p.timer = time.AfterFunc(r.cfg.WaitTimeout, func() { r.expire(addr, p) })
	case p.second == nil:
		p.second = c
	default:
		return nil
	}
	return p
}

// leave takes c, which is gone, out of p if p still waits at addr.
func (r *Relay) leave(addr string, p *pair, c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.waiting[addr] != p:
	case c == p.second:
		p.second = nil
	case p.second != nil:
		p.first, p.second = p.second, nil
	default:
		delete(r.waiting, addr)
		p.timer.Stop()
	}
}

// expire aborts p if it still waits at addr.
func (r *Relay) expire(addr string, p *pair) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting[addr] == p {
		delete(r.waiting, addr)
		close(p.abort)
	}
}

// Activate starts the bytestream at addr (the hex SHA-1 of XEP-0065
// §5.3.2): its two connections now exchange what they send.
func (r *Relay) Activate(addr string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.waiting[addr]
	switch {
	case p == nil:
		return ErrNoStream
	case p.second == nil:
		return ErrOneSide
	}
	delete(r.waiting, addr)
	p.timer.Stop()
	close(p.start)
	return nil
}
