package httpd

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"time"

	"xmppd/xmlstream"
)

// The c2s.Transport side of a BOSH session: what the stream reads and
// writes.

// next returns the stream's next input, waiting for it until the read
// deadline.
func (s *boshSession) next() (boshInput, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		switch {
		case len(s.in) > 0:
			in := s.in[0]
			s.in[0] = boshInput{}
			s.in = s.in[1:]
			hook := s.readHook
			if in.size > 0 {
				s.inBytes -= in.size
				s.dispatchLocked() // a request held while the stream was behind may go back
			}
			s.mu.Unlock()
			if hook != nil && in.size > 0 {
				hook(in.size) // the rate limit, which may pause this reader
			}
			return in, nil
		case s.lost != nil:
			s.mu.Unlock()
			return boshInput{}, s.lost
		case s.done || s.closed:
			s.mu.Unlock()
			return boshInput{}, net.ErrClosed
		}
		deadline, changed := s.deadline, s.changed
		s.mu.Unlock()
		var expired <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return boshInput{}, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		select {
		case <-changed:
		case <-expired:
			return boshInput{}, os.ErrDeadlineExceeded
		}
	}
}

func (s *boshSession) ReadHeader() (xmlstream.Header, error) {
	in, err := s.next()
	switch {
	case err != nil:
		return xmlstream.Header{}, err
	case in.err != nil:
		return xmlstream.Header{}, in.err
	case in.header == nil:
		return xmlstream.Header{}, &xmlstream.Error{Condition: xmlstream.CondBadFormat, Text: "a stream restart (xmpp:restart='true') was expected"}
	}
	return *in.header, nil
}

func (s *boshSession) ReadElement() (*xmlstream.Element, error) {
	in, err := s.next()
	switch {
	case err != nil:
		return nil, err
	case in.err != nil:
		return nil, in.err
	case in.header != nil:
		return nil, &xmlstream.Error{Condition: xmlstream.CondBadFormat, Text: "unexpected stream restart"}
	case in.end:
		return nil, xmlstream.ErrStreamEnd
	}
	return in.el, nil
}

func (s *boshSession) SetReadHook(f func(n int)) {
	s.mu.Lock()
	s.readHook = f
	s.mu.Unlock()
}

// WriteHeader records the stream's id and host for the session's
// responses; XEP-0206 has no header addressed to the client.
func (s *boshSession) WriteHeader(id, from, _, lang string, then ...[]byte) error {
	s.mu.Lock()
	s.streamID, s.from = id, from
	s.mu.Unlock()
	return s.Write(then...)
}

// Write queues frames for the next response; while more than s.maxOut
// bytes wait for the client it waits, up to s.writeTimeout.
func (s *boshSession) Write(frames ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var timer *time.Timer
	for s.outBytes > s.maxOut && !s.done && !s.closed {
		if timer == nil {
			timer = time.NewTimer(s.writeTimeout)
			defer timer.Stop()
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
			s.mu.Lock()
		case <-timer.C:
			s.mu.Lock()
			return errBOSHSlow
		}
	}
	switch {
	case s.done || s.closed:
		return net.ErrClosed
	case s.ending:
		return nil // what comes after the end of the stream is not for the client
	}
	for _, f := range frames {
		if bytes.Equal(f, boshEnd) {
			s.ending = true
			break
		}
		if bytes.HasPrefix(f, []byte("<stream:error")) {
			s.streamError = true
		}
		s.out = append(s.out, f)
		s.outBytes += len(f)
	}
	s.dispatchLocked()
	return nil
}

func (s *boshSession) CloseFrame() []byte { return boshEnd }

func (s *boshSession) Namespace() string { return "" }

func (s *boshSession) StreamPrefix() bool { return false }

func (s *boshSession) CanStartTLS() bool { return false }

func (s *boshSession) StartTLS(*tls.Config) error {
	return errors.New("bosh: STARTTLS is not part of XEP-0206")
}

func (s *boshSession) Restart() {}

// ConnectionState is nil: a session's requests may come over different
// connections, so there is no one TLS channel to bind SASL to.
func (s *boshSession) ConnectionState() *tls.ConnectionState { return nil }

func (s *boshSession) Secure() bool { return s.secure }

func (s *boshSession) RemoteAddr() string { return s.remote }

func (s *boshSession) SetMaxStanzaBytes(n int) {
	s.mu.Lock()
	s.limits.MaxStanzaBytes = n
	s.mu.Unlock()
}

func (s *boshSession) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.signalLocked()
	s.mu.Unlock()
	return nil
}

// Close ends the session: held requests are answered with its end.
func (s *boshSession) Close() error {
	s.mu.Lock()
	s.closeLocked()
	s.mu.Unlock()
	return nil
}
