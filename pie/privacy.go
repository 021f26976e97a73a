package pie

import (
	"context"
	"strconv"

	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// blocklistName is the privacy list the blocklist is exported as, as
// ejabberd names the list that holds its XEP-0191 blocklist.
const blocklistName = "Blocked contacts"

// privacy imports the blocklist from a jabber:iq:privacy <query/>: the
// items of its default list (or of its only list) that deny everything
// from a JID. Items that allow, that deny a group or a subscription, or
// only some stanzas, have no XEP-0191 equivalent and are noted.
func (im *Importer) privacy(ctx context.Context, res *Result, account jid.JID, q *xmlstream.Element) error {
	var lists []*xmlstream.Element
	name := ""
	for _, c := range q.ChildElements() {
		switch c.Name.Local {
		case "list":
			lists = append(lists, c)
		case "default":
			name = c.Attr("name")
		}
	}
	var list *xmlstream.Element
	for _, l := range lists {
		if l.Attr("name") == name || len(lists) == 1 {
			list = l
		}
	}
	if list == nil {
		if len(lists) > 0 {
			res.note("%s: privacy lists without a default one were left out", account)
		}
		return nil
	}
	var block []jid.JID
	skipped := 0
	for _, it := range list.ChildElements() {
		j, err := jid.Parse(it.Attr("value"))
		if it.Attr("type") != "jid" || it.Attr("action") != "deny" || len(it.ChildElements()) > 0 || err != nil {
			skipped++
			continue
		}
		block = append(block, j)
	}
	if skipped > 0 {
		res.note("%s: %d items of the privacy list %q were left out: only those denying everything from a JID become the blocklist", account, skipped, list.Attr("name"))
	}
	if len(block) == 0 {
		return nil
	}
	added, err := im.Stores.Blocking.Block(ctx, account, block)
	res.Blocked += len(added)
	return err
}

// privacyQuery is the blocklist as the default privacy list.
func privacyQuery(blocked []jid.JID) *xmlstream.Element {
	list := xmlstream.NewElement(nsPrivacy, "list", "name", blocklistName)
	for i, j := range blocked {
		list.AddChild(xmlstream.NewElement(nsPrivacy, "item", "type", "jid", "value", j.String(), "action", "deny", "order", strconv.Itoa(i)))
	}
	return xmlstream.NewElement(nsPrivacy, "query").
		AddChild(xmlstream.NewElement(nsPrivacy, "default", "name", blocklistName)).
		AddChild(list)
}
