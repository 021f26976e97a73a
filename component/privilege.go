package component

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0356 (Privileged Entity) and XEP-0297 (Stanza
// Forwarding).
const (
	NSPrivilege = "urn:xmpp:privilege:2"
	nsForward   = "urn:xmpp:forward:0"
)

// Privileges are what a component may do in the name of the server's
// accounts (XEP-0356). The zero value grants nothing.
type Privileges struct {
	// Roster is "get", "set" or "both": the component may read, change
	// or both the roster of any account, with IQs addressed to it (the
	// roster module checks this); "" or "none" grants nothing.
	Roster string
	// Message is "outgoing": the component may send messages in the name
	// of the server or of any account, forwarded inside <privilege/>;
	// "" or "none" grants nothing.
	Message string
	// IQ maps namespaces to "get", "set" or "both": the component may
	// send IQs of that type with a payload of that namespace in the name
	// of any account, wrapped in <privileged_iq/> (privilegedIQ).
	IQ map[string]string
	// RosterPush set false keeps the roster pushes of PushesRoster from
	// the component.
	RosterPush *bool
}

// PushesRoster reports whether the component gets every account's roster
// pushes: with the roster privilege "get" or "both", unless RosterPush is
// false (XEP-0356 §4.2).
func (p Privileges) PushesRoster() bool {
	return (p.Roster == "get" || p.Roster == "both") && (p.RosterPush == nil || *p.RosterPush)
}

func (p Privileges) granted() bool {
	return (p.Roster != "" && p.Roster != "none") || p.Message == "outgoing" || len(p.IQ) > 0
}

// allowsIQ reports whether p lets the component send IQs of type typ
// with a payload in namespace ns.
func (p Privileges) allowsIQ(typ, ns string) bool {
	t := p.IQ[ns]
	return t == typ || t == "both"
}

// advert is the message that tells a component its privileges once it
// is connected (XEP-0356 §4.2), from the server host it is under, or nil
// when it has none.
func (c *stream) advert() *xmlstream.Element {
	p := c.s.cfg.Privileges[c.link.domain]
	if !p.granted() {
		return nil
	}
	priv := xmlstream.NewElement(NSPrivilege, "privilege")
	if p.Roster != "" && p.Roster != "none" {
		perm := xmlstream.NewElement(NSPrivilege, "perm", "access", "roster", "type", p.Roster)
		if p.Roster != "set" {
			perm.SetAttr("push", strconv.FormatBool(p.PushesRoster()))
		}
		priv.AddChild(perm)
	}
	if p.Message == "outgoing" {
		priv.AddChild(xmlstream.NewElement(NSPrivilege, "perm", "access", "message", "type", "outgoing"))
	}
	if len(p.IQ) > 0 {
		perm := xmlstream.NewElement(NSPrivilege, "perm", "access", "iq")
		for _, ns := range slices.Sorted(maps.Keys(p.IQ)) {
			perm.AddChild(xmlstream.NewElement(NSPrivilege, "namespace", "ns", ns, "type", p.IQ[ns]))
		}
		priv.AddChild(perm)
	}
	return xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", c.host(), "to", c.link.domain, "id", stanza.NewID()).AddChild(priv)
}

// host is the served host the component's domain is under, or the first.
func (c *stream) host() string {
	for _, h := range c.s.cfg.Hosts {
		if strings.HasSuffix(c.link.domain, "."+h) {
			return h
		}
	}
	if len(c.s.cfg.Hosts) > 0 {
		return c.s.cfg.Hosts[0]
	}
	return c.link.domain
}

// privileged routes the message a component forwards in <privilege/>
// (XEP-0356 §5): in the name of the server or of an account, that is
// from a host or an account's bare JID, with the message privilege. It
// reports whether el was such a message; one that breaks the rules is
// answered with forbidden.
func (c *stream) privileged(el *xmlstream.Element) bool {
	priv := el.Child(NSPrivilege, "privilege")
	if el.Name.Local != stanza.Message || priv == nil {
		return false
	}
	fwd := priv.Child(nsForward, "forwarded")
	var inner *xmlstream.Element
	if fwd != nil {
		inner = fwd.Child(stanza.NSClient, stanza.Message)
	}
	if inner == nil {
		c.s.router.Route(context.Background(), stanza.ErrorReply(el, stanza.BadRequest, "<privilege/> holds a forwarded message"))
		return true
	}
	from, err := jid.Parse(inner.Attr("from"))
	switch {
	case c.s.cfg.Privileges[c.link.domain].Message != "outgoing":
		c.s.router.Route(context.Background(), stanza.ErrorReply(el, stanza.Forbidden, "this component may not send messages for others"))
	case err != nil || from.Resourcepart() != "" || !c.s.router.IsLocal(from.Domainpart()):
		c.s.router.Route(context.Background(), stanza.ErrorReply(el, stanza.Forbidden, "a forwarded message is from this server or the bare JID of one of its accounts"))
	default:
		inner = inner.Copy()
		if _, err := jid.Parse(inner.Attr("to")); err != nil || inner.Attr("to") == "" {
			c.s.router.Route(context.Background(), stanza.ErrorReply(el, stanza.JIDMalformed, "the forwarded message needs a valid 'to'"))
			return true
		}
		c.s.log.Debug("component: privileged message", "domain", c.link.domain, "from", from.String())
		c.s.router.Route(context.Background(), inner)
	}
	return true
}
