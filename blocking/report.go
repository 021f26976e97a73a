package blocking

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NSReporting is the namespace of XEP-0377 (Blocking Command Reports):
// a <report/> inside a block command's <item/> tells the operators why
// the user blocks that JID.
const NSReporting = "urn:xmpp:reporting:1"

// report is an abuse report attached to the block of one JID.
type report struct {
	reported jid.JID
	reason   string // e.g. urn:xmpp:reporting:spam
	text     string
	el       *xmlstream.Element // the <report/> as sent, with its stanza ids
}

// reports returns the reports of a block command's items: those with a
// reason (XEP-0377 §3); a report without one is left out, and the block
// goes on as without it.
func reports(block *xmlstream.Element) []report {
	var out []report
	for _, item := range block.ChildElements() {
		r := item.Child(NSReporting, "report")
		if r == nil || r.Attr("reason") == "" {
			continue
		}
		j, err := jid.Parse(item.Attr("jid"))
		if err != nil {
			continue
		}
		var texts []string
		for _, t := range r.ChildElements() {
			if t.Name.Space == NSReporting && t.Name.Local == "text" {
				texts = append(texts, strings.TrimSpace(t.Text()))
			}
		}
		out = append(out, report{reported: j, reason: r.Attr("reason"), text: strings.Join(texts, "\n"), el: r.Copy()})
	}
	return out
}

// forwardReports logs each report of reporter's and sends it to the
// administrators, as a message from reporter's host that carries the
// <report/> itself.
func (m *Module) forwardReports(ctx context.Context, reporter jid.JID, rs []report) {
	for _, r := range rs {
		m.cfg.Logger.Info("abuse report", "reporter", reporter.Bare().String(), "reported", r.reported.String(), "reason", r.reason, "text", r.text)
		body := reporter.Bare().String() + " blocked and reported " + r.reported.String() + " (" + strings.TrimPrefix(r.reason, "urn:xmpp:reporting:") + ")"
		if r.text != "" {
			body += ": " + r.text
		}
		for _, admin := range m.cfg.Admins {
			msg := xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", reporter.Domainpart(), "to", admin.String(),
				"type", "normal", "id", stanza.NewID())
			msg.AddChild(xmlstream.NewElement(stanza.NSClient, "subject").AddText("Abuse report"))
			msg.AddChild(xmlstream.NewElement(stanza.NSClient, "body").AddText(body))
			msg.AddChild(r.el)
			m.r.Route(ctx, msg)
		}
	}
}
