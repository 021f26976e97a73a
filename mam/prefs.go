package mam

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// handlePrefs gets or sets the account's archiving preferences (XEP-0313
// §6 of version 0.6, now XEP-0441, in the urn:xmpp:mam:2 namespace). They
// are honoured when messages are stored: "roster" archives messages with
// contacts in the account's roster only; <always/> and <never/> list JIDs
// that override the default, never winning over always. A bare JID in a
// list matches each of its resources, a full JID that resource only
// (XEP-0441 §2.3, "JID matching").
func (m *Module) handlePrefs(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.To.Bare().Equal(iq.From.Bare()) {
		return iq.Error(stanza.Forbidden, "only the account itself may see its archiving preferences")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	domain, user := iq.To.Domainpart(), iq.To.Localpart()
	if iq.Type == "set" {
		p, ok := parsePrefs(iq.Payload)
		if !ok {
			return iq.Error(stanza.BadRequest, "default must be always, never or roster, and the lists JIDs")
		}
		if err := m.cfg.Store.SetPrefs(ctx, domain, user, p); err != nil {
			m.cfg.Logger.Error("storing archiving preferences", "jid", iq.From.String(), "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
	}
	p, err := m.cfg.Store.Prefs(ctx, domain, user)
	if err != nil {
		m.cfg.Logger.Error("loading archiving preferences", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	return iq.Result(prefsElement(iq.Payload.Name.Space, p))
}

func parsePrefs(el *xmlstream.Element) (Prefs, bool) {
	p := Prefs{Default: el.Attr("default")}
	switch p.Default {
	case "always", "never", "roster":
	default:
		return p, false
	}
	list := func(name string) ([]string, bool) {
		var out []string
		if l := el.Child(el.Name.Space, name); l != nil {
			for _, c := range l.ChildElements() {
				j, err := jid.Parse(c.Text())
				if c.Name.Local != "jid" || err != nil {
					return nil, false
				}
				out = append(out, j.String())
			}
		}
		return out, true
	}
	var ok1, ok2 bool
	p.Always, ok1 = list("always")
	p.Never, ok2 = list("never")
	return p, ok1 && ok2
}

// prefsElement returns p as a <prefs/> element in namespace ns.
func prefsElement(ns string, p Prefs) *xmlstream.Element {
	el := xmlstream.NewElement(ns, "prefs", "default", p.Default)
	for _, l := range []struct {
		name string
		jids []string
	}{{"always", p.Always}, {"never", p.Never}} {
		list := xmlstream.NewElement(ns, l.name)
		for _, j := range l.jids {
			list.AddChild(xmlstream.NewElement(ns, "jid").AddText(j))
		}
		el.AddChild(list)
	}
	return el
}
