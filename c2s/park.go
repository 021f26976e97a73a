package c2s

import (
	"errors"
	"os"
	"syscall"
	"time"

	"xmppd/xmlstream"
)

// errParked is returned by ReadElementParked when the client sent
// nothing for parkAfter.
var errParked = errors.New("c2s: the client is idle")

// parker is a transport whose idle readers can wait for the client's next
// element without a deep goroutine stack.
type parker interface {
	// ReadElementParked reads the next element like ReadElement, or
	// returns errParked once the client has been idle for a while.
	ReadElementParked() (*xmlstream.Element, error)
	// Park calls wake in a new goroutine once the client has sent
	// something more, or the connection closed or failed: the next read
	// tells which.
	Park(wake func())
}

// ReadElementParked implements parker. Most sessions are idle most of the
// time, and a reader blocked inside crypto/tls has a goroutine stack of
// about 8 KiB, the biggest part of an idle session's memory. So when
// nothing arrives for t.parkAfter, the session's reader goroutine ends,
// and Park starts a new one once the socket is readable (Session.serve).
//
// This is safe because the deadline can only expire before the first
// byte of an element (WaitElement), when neither the decoder nor
// crypto/tls holds a complete record of the client's: crypto/tls answers
// from what it buffered without reading the socket, so a read that timed
// out found nothing buffered, and whatever the client sends next makes
// the socket readable. A timeout leaves both usable (crypto/tls treats
// it as temporary; WaitElement as retryable).
func (t *tcpTransport) ReadElementParked() (*xmlstream.Element, error) {
	if t.parkAfter > 0 && t.dec.Buffered() == 0 {
		t.conn.SetReadDeadline(time.Now().Add(t.parkAfter))
		err := t.dec.WaitElement()
		t.conn.SetReadDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errParked
		}
		if err != nil {
			return nil, err
		}
	}
	return t.dec.ReadElement()
}

// Park implements parker. On Linux one epoll instance watches every
// parked socket (idle_linux.go); elsewhere, or when that fails, a
// goroutine with a small stack waits in waitReadable.
func (t *tcpTransport) Park(wake func()) {
	raw := t.rawConn()
	parked := false
	if raw != nil {
		raw.Control(func(fd uintptr) { parked = idle.park(t, int(fd), wake) })
	}
	if !parked {
		go func() {
			t.waitReadable(raw) // a failure is the next read's to report
			wake()
		}()
	}
}

// rawConn is the socket under t, or nil when it has none.
func (t *tcpTransport) rawConn() syscall.RawConn {
	conn := t.conn
	if t.tls != nil {
		conn = t.tls.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// waitReadable returns once raw is readable, or failed or closed.
func (t *tcpTransport) waitReadable(raw syscall.RawConn) error {
	if raw == nil {
		return nil
	}
	var peek [1]byte
	return raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}
