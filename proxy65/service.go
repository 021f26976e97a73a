// Package proxy65 implements a SOCKS5 bytestreams proxy (XEP-0065): a
// service on proxy.<host> tells clients where its relay listens, and
// joins two parties' connections there when the initiator activates
// their bytestream. Clients fall back on it for Jingle and SI file
// transfers when neither party can reach the other directly.
//
// The relay (Relay) listens on one TCP port for all hosts; a service
// (Service) per host answers the XMPP side. Only accounts of the served
// hosts may ask for the relay's address and activate bytestreams; their
// contacts, wherever they are, only connect to it.
package proxy65

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strconv"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0065 and XEP-0030.
const (
	NS      = "http://jabber.org/protocol/bytestreams"
	nsInfo  = "http://jabber.org/protocol/disco#info"
	nsItems = "http://jabber.org/protocol/disco#items"
)

// Config is what a Service needs.
type Config struct {
	// Domain is the service's address, such as proxy.example.org.
	Domain string
	// Hosts are the served domains, whose accounts may use the proxy.
	Hosts []string
	// Address returns the relay's host and port as clients reach it.
	Address func() (host string, port int)
	Relay   *Relay
	// Logger receives activations; nil discards them.
	Logger *slog.Logger
}

// Service is the XMPP side of the proxy on one domain.
type Service struct {
	cfg Config
	r   *router.Router
	log *slog.Logger
}

// New returns the service for cfg; Register makes it reachable.
func New(r *router.Router, cfg Config) *Service {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, r: r, log: log}
}

// Register routes the service's domain to s.
func (s *Service) Register() { s.r.AddComponent(s.cfg.Domain, s) }

// Route answers an IQ addressed to the service; other stanzas get
// service-unavailable, as RFC 6120 §10.4 allows.
func (s *Service) Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if stanza.IsError(st) || st.Attr("type") == "result" || st.Name.Local == stanza.Presence {
		return
	}
	payload := st.FirstChildElement()
	typ := st.Attr("type")
	var answer *xmlstream.Element
	switch {
	case st.Name.Local != stanza.IQ || to.Localpart() != "" || payload == nil:
		answer = stanza.ErrorReply(st, stanza.ServiceUnavailable, "")
	case typ == "get" && payload.Name.Space == nsInfo && payload.Name.Local == "query" && payload.Attr("node") == "":
		answer = stanza.Result(st, info())
	case typ == "get" && payload.Name.Space == nsItems && payload.Name.Local == "query" && payload.Attr("node") == "":
		answer = stanza.Result(st, xmlstream.NewElement(nsItems, "query"))
	case payload.Name.Space == NS && payload.Name.Local == "query" && !s.mayUse(from):
		answer = stanza.ErrorReply(st, stanza.Forbidden, "only accounts of this server may use its proxy")
	case typ == "get" && payload.Name.Space == NS && payload.Name.Local == "query":
		answer = stanza.Result(st, s.streamhost())
	case typ == "set" && payload.Name.Space == NS && payload.Name.Local == "query":
		answer = s.activate(st, from, payload)
	default:
		answer = stanza.ErrorReply(st, stanza.ServiceUnavailable, "")
	}
	s.r.Route(ctx, answer)
}

// info is the service's disco#info (XEP-0065 §4).
func info() *xmlstream.Element {
	q := xmlstream.NewElement(nsInfo, "query")
	q.AddChild(xmlstream.NewElement(nsInfo, "identity", "category", "proxy", "type", "bytestreams", "name", "SOCKS5 Bytestreams Service"))
	q.AddChild(xmlstream.NewElement(nsInfo, "feature", "var", nsInfo))
	q.AddChild(xmlstream.NewElement(nsInfo, "feature", "var", NS))
	return q
}

// mayUse reports whether from, an account of a served host, may use the
// proxy.
func (s *Service) mayUse(from jid.JID) bool {
	return from.Localpart() != "" && slices.Contains(s.cfg.Hosts, from.Domainpart())
}

// streamhost is the relay's network address (XEP-0065 §4).
func (s *Service) streamhost() *xmlstream.Element {
	host, port := s.cfg.Address()
	return xmlstream.NewElement(NS, "query").AddChild(xmlstream.NewElement(NS, "streamhost",
		"jid", s.cfg.Domain, "host", host, "port", strconv.Itoa(port)))
}

// activate joins the connections of the bytestream the initiator from
// names by its sid and target (XEP-0065 §6.3.5).
func (s *Service) activate(st *xmlstream.Element, from jid.JID, q *xmlstream.Element) *xmlstream.Element {
	a := q.Child(NS, "activate")
	if q.Attr("sid") == "" || a == nil {
		return stanza.ErrorReply(st, stanza.BadRequest, "activation needs a sid and an <activate/> with the target's JID")
	}
	target, err := jid.Parse(a.Text())
	if err != nil {
		return stanza.ErrorReply(st, stanza.JIDMalformed, "<activate/> does not hold a JID")
	}
	sum := sha1.Sum([]byte(q.Attr("sid") + from.String() + target.String()))
	switch err := s.cfg.Relay.Activate(hex.EncodeToString(sum[:])); {
	case errors.Is(err, ErrNoStream):
		return stanza.ErrorReply(st, stanza.ItemNotFound, "no connection waits for this bytestream of yours")
	case errors.Is(err, ErrOneSide):
		return stanza.ErrorReply(st, stanza.NotAllowed, "only one party of the bytestream is connected")
	case err != nil:
		return stanza.ErrorReply(st, stanza.InternalServerError, "")
	}
	s.log.Debug("proxy65: activated", "initiator", from.String(), "target", target.String())
	return stanza.Result(st, nil)
}
