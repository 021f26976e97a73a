package s2s

import "xmppd/xmlstream"

// Namespaces of bidirectional streams (XEP-0288): the receiving server's
// stream feature, and the initiating server's request.
const (
	nsBidiFeature = "urn:xmpp:features:bidi"
	nsBidi        = "urn:xmpp:bidi"
)

// requestBidi asks the receiving server, if its features offer it, to
// send its stanzas for us back over our stream (XEP-0288 §2.2), which is
// done before authenticating. c must be encrypted unless RequireTLS is
// off.
func (s *Server) requestBidi(c *conn, features *xmlstream.Element) error {
	if features.Child(nsBidiFeature, "bidi") == nil {
		return nil
	}
	if err := c.writeElements(xmlstream.NewElement(nsBidi, "bidi")); err != nil {
		return err
	}
	c.bidi = true
	return nil
}

// offerBidi lets our stanzas from p.local to p.remote go over c, an
// incoming stream on which the peer asked for bidirectionality and then
// authenticated p.remote for p.local, and was told so.
func (s *Server) offerBidi(p pair, c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bidi[p] == nil || isEnded(s.bidi[p]) {
		s.bidi[p] = c
	}
}

// dropBidi forgets the pairs c carried, as its stream ends.
func (s *Server) dropBidi(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, b := range s.bidi {
		if b == c {
			delete(s.bidi, p)
		}
	}
}

// bidiFor returns the live incoming stream that may carry p's stanzas,
// or nil. s.mu is held.
func (s *Server) bidiFor(p pair) *conn {
	if c := s.bidi[p]; c != nil && !isEnded(c) {
		return c
	}
	return nil
}

// isEnded reports whether c's stream has ended.
func isEnded(c *conn) bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}
