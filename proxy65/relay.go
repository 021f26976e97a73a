package proxy65

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"xmppd/internal/accept"
)

// Errors of Relay.Activate.
var (
	// ErrNoStream: no connection is waiting with that address.
	ErrNoStream = errors.New("no connection waits for this bytestream")
	// ErrOneSide: only one of the two parties is connected.
	ErrOneSide = errors.New("only one party of the bytestream is connected")
)

// SOCKS5 (RFC 1928) as XEP-0065 uses it.
const (
	socksVersion = 5
	noAuth       = 0x00
	noMethod     = 0xff
	cmdConnect   = 1
	atypDomain   = 3
	replyOK      = 0
	replyFailure = 1
	replyCommand = 7  // command not supported
	replyAtyp    = 8  // address type not supported
	hashLen      = 40 // hex SHA-1, the bytestream's address
)

// RelayConfig is what a Relay needs.
type RelayConfig struct {
	// HandshakeTimeout bounds the SOCKS5 negotiation of a connection.
	// Default 10 s.
	HandshakeTimeout time.Duration
	// WaitTimeout bounds how long a connection waits for its
	// bytestream's activation. Default 2 min.
	WaitTimeout time.Duration
	// MaxWaiting bounds the connections waiting for activation; more are
	// refused. Default 1000.
	MaxWaiting int
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

	mu      sync.Mutex
	waiting map[string]*pair // by address
	count   int              // connections in waiting

	conns accept.Group[*conn]
}

// pair is the connections of one bytestream: the target's, which comes
// first, and the initiator's.
type pair struct {
	first, second *conn
	timer         *time.Timer
	start         chan struct{} // closed at activation
	abort         chan struct{} // closed when the wait expired
	copying       sync.WaitGroup
}

// conn is one connection to the relay.
type conn struct {
	net.Conn
	r *bufio.Reader // holds what the party sent before activation
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{cfg: cfg, log: log, stop: make(chan struct{}), waiting: map[string]*pair{}}
}

// Serve accepts connections on l until Shutdown.
func (r *Relay) Serve(l net.Listener) error {
	return r.conns.Serve(l, func(nc net.Conn) *conn { return &conn{Conn: nc, r: bufio.NewReaderSize(nc, 512)} }, r.serve)
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
// activation, then copies what c's party sends to the other party.
func (r *Relay) serve(c *conn) {
	defer c.Close()
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
	if reply(c, replyOK, addr) != nil {
		return // the pair goes when its wait expires
	}
	c.SetDeadline(time.Time{})
	select {
	case <-p.start:
	case <-p.abort:
		return
	case <-r.stop:
		return
	}
	peer := p.first
	if c == p.first {
		peer = p.second
	}
	_, err = io.Copy(peer.Conn, c.r)
	if tc, ok := peer.Conn.(*net.TCPConn); ok && err == nil {
		tc.CloseWrite() // the peer reads the end of the stream
	} else {
		peer.Close() // a failed direction ends the other too
	}
	p.copying.Done()
	p.copying.Wait() // c stays open while the peer still sends
}

// handshake reads the client's greeting, answers it, and reads its
// CONNECT request (RFC 1928 §3, §4; XEP-0065 §5.3.2), and returns the
// address it names. A request it cannot take is answered with a failure.
func handshake(c *conn) (string, error) {
	var head [2]byte
	if _, err := io.ReadFull(c.r, head[:]); err != nil {
		return "", err
	}
	if head[0] != socksVersion {
		return "", errors.New("not SOCKS5")
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(c.r, methods); err != nil {
		return "", err
	}
	if !slices.Contains(methods, noAuth) {
		c.Write([]byte{socksVersion, noMethod})
		return "", errors.New("SOCKS5 with authentication")
	}
	if _, err := c.Write([]byte{socksVersion, noAuth}); err != nil {
		return "", err
	}
	var req [5]byte // VER CMD RSV ATYP LEN
	if _, err := io.ReadFull(c.r, req[:]); err != nil {
		return "", err
	}
	fail := func(code byte, why string) (string, error) {
		reply(c, code, "")
		return "", errors.New(why)
	}
	switch {
	case req[0] != socksVersion:
		return fail(replyFailure, "not SOCKS5")
	case req[1] != cmdConnect:
		return fail(replyCommand, "not a CONNECT")
	case req[3] != atypDomain || req[4] != hashLen:
		return fail(replyAtyp, "not a bytestream's address")
	}
	rest := make([]byte, hashLen+2) // the address and the port, 0
	if _, err := io.ReadFull(c.r, rest); err != nil {
		return "", err
	}
	addr := string(rest[:hashLen])
	if _, err := hex.DecodeString(addr); err != nil {
		return fail(replyAtyp, "the address is not a hex SHA-1")
	}
	return addr, nil
}

// reply answers a CONNECT request with code, and with the bytestream's
// address and port 0 as the bound address (RFC 1928 §6; XEP-0065 §5.3.2);
// without an address, with the IPv4 address 0.0.0.0.
func reply(c *conn, code byte, addr string) error {
	b := []byte{socksVersion, code, 0, 1, 0, 0, 0, 0, 0, 0}
	if addr != "" {
		b = append([]byte{socksVersion, code, 0, atypDomain, byte(len(addr))}, addr...)
		b = append(b, 0, 0)
	}
	_, err := c.Write(b)
	return err
}

// wait puts c with the other connection of addr and returns their pair;
// nil when c is refused: a third connection (one target per bytestream,
// XEP-0065 §8.1), or one too many waiting. A pair not activated in time
// is aborted.
func (r *Relay) wait(addr string, c *conn) *pair {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count >= r.cfg.MaxWaiting {
		r.log.Warn("proxy65: too many connections wait for activation", "waiting", r.count)
		return nil
	}
	p := r.waiting[addr]
	switch {
	case p == nil:
		p = &pair{first: c, start: make(chan struct{}), abort: make(chan struct{})}
		r.waiting[addr] = p
		p.timer = time.AfterFunc(r.cfg.WaitTimeout, func() { r.expire(addr, p) })
	case p.second == nil:
		p.second = c
	default:
		return nil
	}
	r.count++
	return p
}

// expire aborts p if it still waits at addr.
func (r *Relay) expire(addr string, p *pair) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting[addr] == p {
		r.forgetLocked(addr, p)
		close(p.abort)
	}
}

// forgetLocked takes p, at addr, out of the waiting ones.
func (r *Relay) forgetLocked(addr string, p *pair) {
	delete(r.waiting, addr)
	r.count--
	if p.second != nil {
		r.count--
	}
	p.timer.Stop()
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
	r.forgetLocked(addr, p)
	p.copying.Add(2)
	close(p.start)
	return nil
}
