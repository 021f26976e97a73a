package c2s

import (
	"errors"
	"os"
	"syscall"
	"time"

	"xmppd/xmlstream"
)

// parker is a transport that can wait for its client's next element
// without holding a deep goroutine stack while the client is idle.
type parker interface {
	ReadElementParked() (*xmlstream.Element, error)
}

// ReadElementParked reads the next element like ReadElement, for a bound
// session. Most idle sessions are idle for long: a reader blocked inside
// crypto/tls keeps a goroutine stack of about 8 KiB, the biggest part of
// an idle session's memory. So when nothing arrives for t.parkAfter, the
// reader instead waits for the socket to become readable in a shallow
// call, and the runtime shrinks its stack at the next collections
// (measured: from 8.7 to 4.2 KiB per idle session).
//
// This is safe because the deadline can only expire before the first
// byte of an element (WaitElement), when neither the decoder nor
// crypto/tls holds a complete record of the client's: crypto/tls answers
// from what it buffered without reading the socket, so a read that timed
// out found nothing buffered, and whatever the client sends next makes
// the socket readable. A timeout leaves both usable (crypto/tls treats
// it as temporary; WaitElement as retryable).
func (t *tcpTransport) ReadElementParked() (*xmlstream.Element, error) {
	for t.parkAfter > 0 && t.dec.Buffered() == 0 {
		t.conn.SetReadDeadline(time.Now().Add(t.parkAfter))
		err := t.dec.WaitElement()
		t.conn.SetReadDeadline(time.Time{})
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, err
		}
		if err := t.waitReadable(); err != nil {
			return nil, err
		}
	}
	return t.dec.ReadElement()
}

// waitReadable returns once the socket has something to read (or is
// closed or failed: the next read tells).
func (t *tcpTransport) waitReadable() error {
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
		return err
	}
	var peek [1]byte
	return raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}
