package c2s

import (
	"strconv"

	"xmppd/xmlstream"
)

// NSLimits is the namespace of XEP-0478 stream limits advertisement.
const NSLimits = "urn:xmpp:stream-limits:0"

// preAuthStanzaBytes bounds each element a client sends before it has
// authenticated. Parsed, an element takes up to some thirty times its size
// in memory (a tree of tiny elements), so a connection that has proved
// nothing may only make the server hold half a megabyte, not the eight
// that the configured limit of 256 KiB allows; everything a client sends
// before authentication (STARTTLS, SASL, in-band registration) is far
// smaller than this.
const preAuthStanzaBytes = 16 << 10

// maxStanzaBytes is the largest element the stream accepts now: the
// configured limit once the client has authenticated, and at most
// preAuthStanzaBytes before.
func (st *stream) maxStanzaBytes() int {
	n := st.srv.cfg.Limits.MaxStanzaBytes
	if n <= 0 {
		n = xmlstream.DefaultMaxStanzaBytes
	}
	if st.username == "" {
		n = min(n, preAuthStanzaBytes)
	}
	return n
}

// limitsFeature announces the size limit in the stream features (XEP-0478),
// so that a client can keep its stanzas within it.
func (st *stream) limitsFeature() *xmlstream.Element {
	return xmlstream.NewElement(NSLimits, "limits").AddChild(
		xmlstream.NewElement(NSLimits, "max-bytes").AddText(strconv.Itoa(st.maxStanzaBytes())))
}
