// Package extdisco implements XEP-0215: External Service Discovery, so
// that clients find the STUN and TURN servers for audio and video calls
// (Jingle ICE). TURN servers that share a secret with xmppd (coturn's
// use-auth-secret, the "TURN REST API") get short-lived credentials for
// each asking account: the username is "<expiry>:<bare JID>", the
// password base64(HMAC-SHA1(secret, username)).
//
// Credentials are sent with the services list, as Conversations and Dino
// expect, and on a <credentials/> request (§3.3). Only the server's own
// accounts are answered: credentials let one use the relay.
package extdisco

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0215 (version 2).
const NS = "urn:xmpp:extdisco:2"

// Service is an external service the server announces.
type Service struct {
	Type      string // stun, turn or turns
	Host      string
	Port      int
	Transport string // udp or tcp
	Name      string
	// Secret, when set, is shared with the TURN server: credentials are
	// made from it, valid for TTL.
	Secret string
	TTL    time.Duration
}

// Register answers service and credentials requests for services on r,
// at the time now returns. Without services nothing is registered.
func Register(r *router.Router, services []Service, now func() time.Time) {
	if len(services) == 0 {
		return
	}
	r.AddFeature(NS)
	// Credentials let one use the relay: only the accounts of the served
	// hosts are answered, not users of other servers or of components.
	account := func(iq router.IQ) bool {
		return iq.From.Localpart() != "" && r.IsLocal(iq.From.Domainpart())
	}
	r.HandleIQ(router.ToServer, "get", NS, "services", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if !account(iq) {
			return iq.Error(stanza.Forbidden, "")
		}
		typ := iq.Payload.Attr("type")
		res := xmlstream.NewElement(NS, "services")
		if typ != "" {
			res.SetAttr("type", typ)
		}
		for _, s := range services {
			if typ == "" || s.Type == typ {
				res.AddChild(s.element(iq, now()))
			}
		}
		return iq.Result(res)
	})
	r.HandleIQ(router.ToServer, "get", NS, "credentials", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		if !account(iq) {
			return iq.Error(stanza.Forbidden, "")
		}
		want := iq.Payload.Child(NS, "service")
		if want == nil || want.Attr("host") == "" || want.Attr("type") == "" {
			return iq.Error(stanza.BadRequest, "name a service by its type and host")
		}
		for _, s := range services {
			if s.Type == want.Attr("type") && s.Host == want.Attr("host") &&
				(want.Attr("port") == "" || want.Attr("port") == strconv.Itoa(s.Port)) && s.Secret != "" {
				return iq.Result(xmlstream.NewElement(NS, "credentials").AddChild(s.element(iq, now())))
			}
		}
		return iq.Error(stanza.ItemNotFound, "no service with credentials matches")
	})
}

// element describes s to the asker of iq, with credentials when s has a
// secret.
func (s Service) element(iq router.IQ, now time.Time) *xmlstream.Element {
	el := xmlstream.NewElement(NS, "service", "type", s.Type, "host", s.Host,
		"port", strconv.Itoa(s.Port), "transport", s.Transport, "name", s.Name)
	if s.Secret == "" {
		return el
	}
	expires := now.Add(s.TTL).Truncate(time.Second)
	username := strconv.FormatInt(expires.Unix(), 10) + ":" + iq.From.Bare().String()
	mac := hmac.New(sha1.New, []byte(s.Secret))
	mac.Write([]byte(username))
	el.SetAttr("restricted", "1")
	el.SetAttr("username", username)
	el.SetAttr("password", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	el.SetAttr("expires", expires.UTC().Format(time.RFC3339))
	return el
}
