package s2s_test

import (
	"fmt"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/s2s"
	"xmppd/xmlstream"
)

// Bounds on what authenticated peers hold, as in.go sets them.
const (
	maxPairsPerStream = s2s.MaxPairsPerStream
	maxStreamsPerPair = s2s.MaxStreamsPerPair
)

// TestPairsPerStreamBounded: a peer multiplexes (XEP-0220 §3) at most
// maxPairsPerStream domain pairs on one stream; a key for one more is
// refused with a resource-constraint dialback error, which leaves the
// stream and its pairs alone.
func TestPairsPerStreamBounded(t *testing.T) {
	ca := xmpptest.NewCA(t)
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		certifiedBy(t, ca, false)(c)
	})
	c, _ := openPeerWith(t, b, "d0.d.test", "b.test", true, clientCert(t, ca, "*.d.test"))
	var keys strings.Builder
	for i := range maxPairsPerStream + 1 {
		fmt.Fprintf(&keys, "<db:result from='d%d.d.test' to='b.test'>believed on the certificate</db:result>", i)
	}
	c.Send(keys.String())
	for i := range maxPairsPerStream {
		if el := c.NextNamed("result"); el.Attr("type") != "valid" || el.Attr("to") != fmt.Sprintf("d%d.d.test", i) {
			t.Fatalf("pair %d: got %s, want a valid verdict", i, el)
		}
	}
	if el := c.NextNamed("result"); !dialbackError(el, "resource-constraint") {
		t.Fatalf("one pair more: got %s, want a resource-constraint dialback error", el)
	}
	c.Send("<message from='x@d0.d.test' to='b.test' type='headline'/>") // the stream goes on
	c.Send("<db:result from='d0.d.test' to='b.test'>again</db:result>")
	if el := c.NextNamed("result"); el.Attr("type") != "valid" {
		t.Fatalf("a pair already authenticated: got %s, want a valid verdict", el)
	}
}

// TestStreamsPerPairBounded: one domain pair is authenticated on at most
// maxStreamsPerPair incoming streams at once; on one more, its proof is
// refused with a resource-constraint dialback error, until one of the
// others ends.
func TestStreamsPerPairBounded(t *testing.T) {
	ca := xmpptest.NewCA(t)
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		certifiedBy(t, ca, false)(c)
	})
	certs := clientCert(t, ca, "d.test")
	claim := func() (*xmpptest.Client, *xmlstream.Element) {
		c, _ := openPeerWith(t, b, "d.test", "b.test", true, certs)
		c.Send("<db:result from='d.test' to='b.test'>believed on the certificate</db:result>")
		return c, c.NextNamed("result")
	}
	var streams []*xmpptest.Client
	for i := range maxStreamsPerPair {
		c, el := claim()
		if el.Attr("type") != "valid" {
			t.Fatalf("stream %d: got %s, want a valid verdict", i, el)
		}
		streams = append(streams, c)
	}
	if _, el := claim(); !dialbackError(el, "resource-constraint") {
		t.Fatalf("one stream more: got %s, want a resource-constraint dialback error", el)
	}
	// One ends: b.test closes its side once it forgot the stream.
	streams[0].Send("</stream:stream>")
	for {
		if _, err := streams[0].NextErr(); err != nil {
			break
		}
	}
	if _, el := claim(); el.Attr("type") != "valid" {
		t.Fatalf("after a stream ended: got %s, want a valid verdict", el)
	}
}

// dialbackError reports whether el is a dialback error with condition.
func dialbackError(el *xmlstream.Element, condition string) bool {
	e := el.Child("", "error")
	return el.Attr("type") == "error" && e != nil && e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", condition) != nil
}
