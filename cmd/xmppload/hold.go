package main

import (
	"errors"
	"fmt"
	"time"

	"xmppd/xmlstream"
)

// hold starts reading everything the server sends to a logged-in session,
// as a connected client does, until the stream ends.
func (s *session) hold() {
	s.done = make(chan struct{})
	go s.readLoop()
}

// readLoop reads elements until the stream ends. It answers the server's
// IQ requests (a ping with a result, anything else with
// service-unavailable) and drops everything else.
func (s *session) readLoop() {
	defer close(s.done)
	for {
		el, err := s.next()
		if err != nil {
			s.endErr, s.dropped = err, !s.closing.Load()
			return
		}
		s.c.lastRead.Store(time.Now().UnixNano())
		if s.c.onStanza != nil {
			s.c.onStanza(s, el)
		}
		typ := el.Attr("type")
		if el.Name.Local != "iq" || (typ != "get" && typ != "set") {
			continue
		}
		reply := "<iq type='result' id='" + attr(el, "id") + "' to='" + attr(el, "from") + "'/>"
		if el.Child("urn:xmpp:ping", "ping") == nil {
			reply = "<iq type='error' id='" + attr(el, "id") + "' to='" + attr(el, "from") +
				"'><error type='cancel'><service-unavailable xmlns='" + nsStanzas + "'/></error></iq>"
		}
		s.send(reply)
	}
}

// alive reports whether the server has not ended the stream of a held
// session.
func (s *session) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// dropError is the close error of a session the server ended first.
func (s *session) dropError() error {
	return &phaseError{"close", fmt.Errorf("the server ended the stream before the client closed it (%w)", s.endErr)}
}

// close ends a held session before deadline: it sends the closing stream
// tag, waits for the server's (RFC 6120 §4.4) and closes the connection.
func (s *session) close(deadline time.Time) error {
	defer s.conn.Close()
	if !s.alive() {
		return s.dropError()
	}
	s.closing.Store(true)
	if err := s.sendBy("</stream:stream>", deadline); err != nil {
		return &phaseError{"close", err}
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		return &phaseError{"close", errors.New("no closing stream tag from the server")}
	}
	if s.dropped {
		return s.dropError()
	}
	if !errors.Is(s.endErr, xmlstream.ErrStreamEnd) {
		return &phaseError{"close", s.endErr}
	}
	return nil
}

// attr returns el's attribute local escaped for an attribute value.
func attr(el *xmlstream.Element, local string) string {
	return string(xmlstream.AppendEscaped(nil, el.Attr(local)))
}
