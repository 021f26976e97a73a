package xmpptest

import (
	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// Recorder is a session to bind on a router directly (router.Bind): it
// keeps what is delivered to it in Got, which holds up to the size given
// to NewRecorder.
type Recorder struct {
	J   jid.JID
	Got chan *xmlstream.Element
}

// NewRecorder returns a Recorder for the full JID j that keeps up to n
// stanzas.
func NewRecorder(j string, n int) *Recorder {
	return &Recorder{J: jid.MustParse(j), Got: make(chan *xmlstream.Element, n)}
}

// JID returns the session's full JID.
func (s *Recorder) JID() jid.JID { return s.J }

// Deliver keeps st.
func (s *Recorder) Deliver(st *xmlstream.Element) bool { s.Got <- st; return true }

// End does nothing: a Recorder has no stream to end.
func (s *Recorder) End(condition, text string) {}
