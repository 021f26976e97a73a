package proxy65_test

import (
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"xmppd/proxy65"
)

// sixListener gives each connection it accepts a remote address of its
// own in the IPv6 network 2001:db8::/64, as one client that holds a /64
// connects from as many addresses as it likes.
type sixListener struct {
	net.Listener
	n atomic.Int64
}

func (l *sixListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.n.Add(1)
	return sixConn{c, &net.TCPAddr{IP: net.ParseIP("2001:db8::" + strconv.FormatInt(n, 16)), Port: 40000}}, nil
}

type sixConn struct {
	net.Conn
	remote net.Addr
}

func (c sixConn) RemoteAddr() net.Addr { return c.remote }

// TestMaxPerAddressIPv6: MaxPerAddress counts the connections of one IPv6
// /64 together, as every other per-client limit does (clientaddr.Key):
// a client with many addresses of its /64 gets no more.
func TestMaxPerAddressIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := proxy65.NewRelay(proxy65.RelayConfig{MaxPerAddress: 2})
	go r.Serve(&sixListener{Listener: l})
	expectThirdClosed(t, l.Addr()) // each from another address of 2001:db8::/64
}
