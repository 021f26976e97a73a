// Package stanza holds what every package needs to inspect and answer XMPP
// stanzas (RFC 6120 §8): namespaces, types, and error and result replies
// built from the stanza they answer.
package stanza

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/xml"
	"slices"

	"xmppd/xmlstream"
)

// Namespaces of RFC 6120.
const (
	NSClient  = "jabber:client"
	NSServer  = "jabber:server"
	NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// Stanza element names.
const (
	Message  = "message"
	Presence = "presence"
	IQ       = "iq"
)

// Stanza error conditions of RFC 6120 §8.3.3 used by xmppd.
const (
	BadRequest            = "bad-request"
	Conflict              = "conflict"
	FeatureNotImplemented = "feature-not-implemented"
	Forbidden             = "forbidden"
	InternalServerError   = "internal-server-error"
	ItemNotFound          = "item-not-found"
	JIDMalformed          = "jid-malformed"
	NotAcceptable         = "not-acceptable"
	NotAllowed            = "not-allowed"
	NotAuthorized         = "not-authorized"
	PolicyViolation       = "policy-violation"
	RecipientUnavailable  = "recipient-unavailable"
	RegistrationRequired  = "registration-required"
	RemoteServerNotFound  = "remote-server-not-found"
	RemoteServerTimeout   = "remote-server-timeout"
	ResourceConstraint    = "resource-constraint"
	ServiceUnavailable    = "service-unavailable"
	UnexpectedRequest     = "unexpected-request"
)

// errorType is the error type RFC 6120 §8.3.3 suggests for each condition.
var errorType = map[string]string{
	BadRequest:            "modify",
	Conflict:              "cancel",
	FeatureNotImplemented: "cancel",
	Forbidden:             "auth",
	InternalServerError:   "cancel",
	ItemNotFound:          "cancel",
	JIDMalformed:          "modify",
	NotAcceptable:         "modify",
	NotAllowed:            "cancel",
	NotAuthorized:         "auth",
	PolicyViolation:       "modify",
	RecipientUnavailable:  "wait",
	RegistrationRequired:  "auth",
	RemoteServerNotFound:  "cancel",
	RemoteServerTimeout:   "wait",
	ResourceConstraint:    "wait",
	ServiceUnavailable:    "cancel",
	UnexpectedRequest:     "cancel", // as XEP-0060 §6.2.3.2 has it
}

// IsStanza reports whether e is a message, presence or iq in ns.
func IsStanza(e *xmlstream.Element, ns string) bool {
	if e.Name.Space != ns {
		return false
	}
	switch e.Name.Local {
	case Message, Presence, IQ:
		return true
	}
	return false
}

// ToClient moves e and its descendants from ns, the default namespace of
// the stream it came in on (jabber:server, jabber:component:accept), to
// jabber:client, the namespace stanzas have inside the server.
func ToClient(e *xmlstream.Element, ns string) {
	if e.Name.Space == ns {
		e.Name.Space = NSClient
	}
	for _, ch := range e.Children {
		if c, ok := ch.(*xmlstream.Element); ok {
			ToClient(c, ns)
		}
	}
}

// Type returns the stanza's type attribute with RFC 6121's defaults
// applied: "normal" for a message without a type or with one not
// understood (§5.2.2), "available" for presence.
func Type(e *xmlstream.Element) string {
	t := e.Attr("type")
	switch e.Name.Local {
	case Message:
		switch t {
		case "chat", "error", "groupchat", "headline":
			return t
		}
		return "normal" // also for a type not understood (RFC 6121 §5.2.2)
	case Presence:
		if t == "" {
			return "available"
		}
	}
	return t
}

// IsError reports whether e is an error stanza, which must never be answered
// with another error (RFC 6120 §8.3.1).
func IsError(e *xmlstream.Element) bool { return e.Attr("type") == "error" }

// ErrorReply returns the error stanza answering st with condition (RFC 6120
// §8.3): addresses swapped, the original payload kept, and an <error/> whose
// type matches the condition. text, if not empty, is a human-readable
// explanation. An <error/> the stanza carried is not kept: the reply's
// own must be the only one.
func ErrorReply(st *xmlstream.Element, condition, text string) *xmlstream.Element {
	reply := st.Copy().Without(NSClient, "error")
	reply.Name.Space = NSClient
	reply.SetAttr("to", st.Attr("from"))
	reply.SetAttr("from", st.Attr("to"))
	reply.SetAttr("type", "error")
	typ := errorType[condition]
	if typ == "" {
		typ = "cancel"
	}
	errEl := xmlstream.NewElement(NSClient, "error", "type", typ)
	errEl.AddChild(xmlstream.NewElement(NSStanzas, condition))
	if text != "" {
		errEl.AddChild(xmlstream.NewElement(NSStanzas, "text").AddText(text))
	}
	reply.AddChild(errEl)
	return reply
}

// Result returns the IQ result answering iq, with payload as its only child
// when payload is not nil.
func Result(iq, payload *xmlstream.Element) *xmlstream.Element {
	res := xmlstream.NewElement(NSClient, IQ, "type", "result", "id", iq.Attr("id"))
	if to := iq.Attr("from"); to != "" {
		res.SetAttr("to", to)
	}
	if from := iq.Attr("to"); from != "" {
		res.SetAttr("from", from)
	}
	if payload != nil {
		res.AddChild(payload)
	}
	return res
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random identifier of 16 characters (80 bits), safe to use
// as a stream id, a stanza id or a resource.
func NewID() string {
	var b [10]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// DropNamespacedAddressing removes attributes named to, from, id or type
// in a namespace (c:from with xmlns:c='jabber:client'). They are not the
// stanza's own attributes, so the router ignores them, but many clients
// (any built on encoding/xml) match attributes by local name and would
// read a spoofed sender or address from them. Every stream that takes
// stanzas in (c2s, s2s, components) drops them.
func DropNamespacedAddressing(el *xmlstream.Element) {
	el.Attrs = slices.DeleteFunc(el.Attrs, func(a xml.Attr) bool {
		if a.Name.Space == "" {
			return false
		}
		switch a.Name.Local {
		case "to", "from", "id", "type":
			return true
		}
		return false
	})
}
