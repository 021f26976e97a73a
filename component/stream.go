package component

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NS is the namespace of component streams a server accepts.
const NS = "jabber:component:accept"

const nsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"

// maxBatch bounds the bytes one write to a component gathers.
const maxBatch = 64 << 10

// streamError is a stream error condition (RFC 6120 §4.9.3) to send
// before closing.
type streamError struct{ condition, text string }

func (e *streamError) Error() string { return "stream error " + e.condition + ": " + e.text }

func streamErr(condition, text string) error { return &streamError{condition, text} }

// stream is one component's connection. One goroutine reads; once the
// component is authenticated another writes what the router queues.
type stream struct {
	s    *Server
	nc   net.Conn
	dec  *xmlstream.Decoder
	id   string
	link *link // set by the handshake

	queue chan *xmlstream.Element
	qmu   sync.Mutex
	done  bool // no more stanzas are queued; guarded by qmu

	wmu    sync.Mutex
	opened bool // our header is written
	ended  bool // our end of the stream is written
}

func newStream(s *Server, nc net.Conn) *stream {
	return &stream{s: s, nc: nc, id: stanza.NewID(), queue: make(chan *xmlstream.Element, s.cfg.QueueSize)}
}

// serve runs the stream until it ends.
func (c *stream) serve() {
	err := c.run()
	if c.link != nil {
		c.link.release(c)
		c.s.log.Info("component disconnected", "domain", c.link.domain, "err", err)
		c.bounceQueued()
	} else if !closed(err) {
		c.s.log.Info("component refused", "remote", c.nc.RemoteAddr().String(), "err", err)
	}
	c.end(err)
}

// run opens the stream, checks the handshake and then routes the
// component's stanzas.
func (c *stream) run() error {
	c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.HandshakeTimeout))
	if err := c.handshake(); err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Time{})
	c.s.log.Info("component connected", "domain", c.link.domain, "remote", c.nc.RemoteAddr().String())
	go c.writeQueued()
	if adv := c.advert(); adv != nil {
		c.enqueue(adv)
	}
	for {
		el, err := c.dec.ReadElement()
		if err != nil {
			return err
		}
		if el.Name.Space == xmlstream.NSStream && el.Name.Local == "error" {
			return xmlstream.ErrStreamEnd
		}
		if err := c.route(el); err != nil {
			return err
		}
	}
}

// handshake reads the component's header and handshake (XEP-0114 §3):
// the hex SHA-1 of the stream id followed by the domain's secret.
func (c *stream) handshake() error {
	c.dec = xmlstream.NewDecoder(c.nc, c.s.cfg.Limits)
	h, err := c.dec.ReadHeader()
	if err != nil {
		return err
	}
	if h.Name.Space != xmlstream.NSStream || h.DefaultNS != NS {
		return streamErr("invalid-namespace", "a component stream is {"+xmlstream.NSStream+"}stream with the default namespace "+NS)
	}
	if h.To == "" {
		return streamErr("improper-addressing", "a component's header names its domain in 'to'")
	}
	l := c.s.links[domainOf(h.To)]
	if l == nil {
		return streamErr("host-unknown", "no component is configured for "+h.To)
	}
	if err := c.writeHeader(l.domain); err != nil {
		return err
	}
	el, err := c.dec.ReadElement()
	if err != nil {
		return err
	}
	if el.Name.Space != NS || el.Name.Local != "handshake" {
		return streamErr("not-authorized", "the handshake comes first")
	}
	sum := sha1.Sum([]byte(c.id + l.secret))
	want := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(strings.TrimSpace(el.Text()))), []byte(want)) != 1 {
		return streamErr("not-authorized", "the handshake does not match the secret for "+l.domain)
	}
	if !l.claim(c) {
		return streamErr("conflict", "the component "+l.domain+" is already connected, to this node or another of the cluster")
	}
	c.link = l
	return c.write([]byte("<handshake/>"))
}

// domainOf returns the domain a header's 'to' names, prepared as the
// configuration's are (RFC 7622 §3.2: letter case does not matter), or
// "" when it names none.
func domainOf(to string) string {
	j, err := jid.New("", to, "")
	if err != nil {
		return ""
	}
	return j.Domainpart()
}

// route checks a stanza from the component and routes it: it must come
// from the component's domain and name a recipient. A stanza without
// 'from' is from the domain itself.
func (c *stream) route(el *xmlstream.Element) error {
	if !stanza.IsStanza(el, NS) {
		return streamErr("unsupported-stanza-type", "unexpected <"+el.Name.Local+"/> in "+el.Name.Space)
	}
	stanza.DropNamespacedAddressing(el)
	domain, from := c.link.domain, c.link.jid
	if attr := el.Attr("from"); attr != "" {
		var err error
		if from, err = jid.Parse(attr); err != nil || from.Domainpart() != domain {
			return streamErr("invalid-from", attr+" is not at "+domain)
		}
	}
	to, err := jid.Parse(el.Attr("to"))
	if err != nil || el.Attr("to") == "" {
		return streamErr("improper-addressing", "a component's stanzas need a valid 'to'")
	}
	el.SetAttr("from", from.String())
	el.SetAttr("to", to.String())
	stanza.ToClient(el, NS)
	if !c.privileged(el) {
		c.s.router.Route(context.Background(), el)
	}
	return nil
}

// enqueue queues st for the writer without blocking; false when the
// stream has ended or its queue is full.
func (c *stream) enqueue(st *xmlstream.Element) bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.done {
		return false
	}
	select {
	case c.queue <- st:
		return true
	default:
		return false
	}
}

// bounceQueued answers what was queued but not written once the stream
// has ended, as if the component had not been connected.
func (c *stream) bounceQueued() {
	c.qmu.Lock()
	c.done = true
	c.qmu.Unlock()
	close(c.queue)
	for st := range c.queue {
		c.link.deliver(context.Background(), st)
	}
}

// writeQueued writes queued stanzas, as many at once as are waiting,
// until the queue is closed or a write fails. A failed write ends the
// stream, and the stanzas it carried are handed back to the link, which
// answers them with errors once the stream is gone: the component may
// not have received them.
func (c *stream) writeQueued() {
	var b []byte
	var batch []*xmlstream.Element
	for st := range c.queue {
		b, batch = st.Append(b[:0], stanza.NSClient), append(batch[:0], st)
	gather:
		for len(b) < maxBatch {
			select {
			case st, ok := <-c.queue:
				if !ok {
					break gather
				}
				b, batch = st.Append(b, stanza.NSClient), append(batch, st)
			default:
				break gather
			}
		}
		if err := c.write(b); err != nil {
			c.nc.Close()
			for _, st := range batch {
				c.link.deliver(context.Background(), st)
			}
			return
		}
	}
}

// writeHeader opens our side of the stream for domain.
func (c *stream) writeHeader(domain string) error {
	b := []byte("<?xml version='1.0'?><stream:stream xmlns:stream='" + xmlstream.NSStream + "' xmlns='" + NS + "' from='")
	b = xmlstream.AppendEscaped(b, domain)
	b = append(b, "' id='"...)
	b = append(b, c.id...)
	b = append(b, "'>"...)
	c.wmu.Lock()
	c.opened = true
	c.wmu.Unlock()
	return c.write(b)
}

// write writes b within the write timeout.
func (c *stream) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ended {
		return net.ErrClosed
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, err := c.nc.Write(b)
	return err
}

// end writes the stream error err carries, if any, and the end of our
// stream, and closes the connection. A timeout, of the handshake's reads
// or of a write, is connection-timeout, as for clients and servers. A stream error needs our header
// first (RFC 6120 §4.9.1.2).
func (c *stream) end(err error) {
	var se *streamError
	var xe *xmlstream.Error
	switch {
	case errors.As(err, &se):
	case errors.As(err, &xe):
		se = &streamError{xe.Condition, xe.Text}
	case errors.Is(err, os.ErrDeadlineExceeded):
		se = &streamError{"connection-timeout", "the component did not answer in time"}
	}
	var b []byte
	c.wmu.Lock()
	if !c.opened {
		b = append(b, "<?xml version='1.0'?><stream:stream xmlns:stream='"+xmlstream.NSStream+"' xmlns='"+NS+"' id='"+c.id+"'>"...)
		c.opened = true
	}
	c.wmu.Unlock()
	if se != nil {
		b = append(b, "<stream:error>"...)
		b = xmlstream.NewElement(nsStreamErrors, se.condition).Append(b, NS)
		if se.text != "" {
			b = xmlstream.NewElement(nsStreamErrors, "text").AddText(se.text).Append(b, NS)
		}
		b = append(b, "</stream:error>"...)
	}
	b = append(b, "</stream:stream>"...)
	c.write(b)
	c.wmu.Lock()
	c.ended = true
	c.wmu.Unlock()
	c.nc.Close()
}

// closed reports whether err is the peer closing the stream or the
// connection rather than a fault.
func closed(err error) bool {
	return errors.Is(err, xmlstream.ErrStreamEnd) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
