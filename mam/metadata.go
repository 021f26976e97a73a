package mam

import (
	"context"
	"strconv"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// handleMetadata answers <metadata/> (XEP-0313 §5.1, part of #extended):
// the first and last message of the account's archive.
func (m *Module) handleMetadata(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.To.Bare().Equal(iq.From.Bare()) {
		return iq.Error(stanza.Forbidden, "only the account itself may see its archive")
	}
	md, err := m.Metadata(ctx, iq.To)
	if err != nil {
		m.cfg.Logger.Error("reading the archive's metadata", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	return iq.Result(md)
}

// Metadata returns <metadata xmlns='urn:xmpp:mam:2'/> for the archive of
// account: the id and stamp of its first and last message (<start/> and
// <end/>), or neither when it is empty. A client that binds with Bind 2
// gets it in <bound/> (XEP-0386 §2.2).
func (m *Module) Metadata(ctx context.Context, account jid.JID) (*xmlstream.Element, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	md := xmlstream.NewElement(NS, "metadata")
	for _, end := range []struct {
		name string
		last bool
	}{{"start", false}, {"end", true}} {
		page, err := m.cfg.Store.Query(ctx, account.Domainpart(), account.Localpart(), Query{Max: 1, Last: end.last})
		if err != nil {
			return nil, err
		}
		if len(page.Messages) == 0 {
			return md, nil
		}
		msg := page.Messages[0]
		md.AddChild(xmlstream.NewElement(NS, end.name, "id", strconv.FormatInt(msg.ID, 10), "timestamp", msg.Stamp.UTC().Format(stampLayout)))
	}
	return md, nil
}
