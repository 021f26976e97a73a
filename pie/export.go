package pie

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/blocking"
	"xmppd/mam"
	offlinepkg "xmppd/offline"
	"xmppd/pep"
	"xmppd/roster"
	"xmppd/storage"
	"xmppd/vcard"
	"xmppd/xmlstream"
)

// ExportStores are where the exported data comes from.
type ExportStores struct {
	Accounts interface {
		// List returns domain's accounts as username@domain.
		List(ctx context.Context, domain string) ([]string, error)
		// Credentials returns an account's SCRAM credentials.
		Credentials(ctx context.Context, domain, username string) ([]auth.Credential, error)
	}
	Roster roster.Store
	VCards vcard.Store
	// Private returns an account's private XML storage, one
	// jabber:iq:private <query/> per namespace.
	Private interface {
		All(ctx context.Context, domain, username string) ([][]byte, error)
	}
	// Offline returns an account's offline messages, oldest first.
	Offline interface {
		All(ctx context.Context, domain, username string) ([]offlinepkg.Message, error)
	}
	PEP      pep.Store
	Blocking blocking.Store
	// Archive returns up to max messages of an archive with ids above
	// after, oldest first.
	Archive interface {
		After(ctx context.Context, domain, username string, after int64, max int) ([]mam.Message, error)
	}
}

// Exporter writes accounts and their data in XEP-0227's format: what
// Importer reads, and Prosody's and ejabberd's importers too.
type Exporter struct {
	Stores ExportStores
	// Hosts are the domains whose accounts are exported.
	Hosts []string
}

// ExportResult counts what Export wrote.
type ExportResult struct {
	Accounts, Archived int
}

// archivePage is how many archived messages are read at once.
const archivePage = 500

// Export writes every account of the hosts, with its credentials,
// roster, pending subscription requests, vCard, private storage, offline
// messages, blocklist (as the default privacy list), PEP nodes and message
// archive, to w as one <server-data/>,
// one account at a time.
func (ex *Exporter) Export(ctx context.Context, w io.Writer) (ExportResult, error) {
	var res ExportResult
	bw := bufio.NewWriter(w)
	bw.WriteString("<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='" + NS + "'>\n")
	for _, host := range ex.Hosts {
		users, err := ex.Stores.Accounts.List(ctx, host)
		if err != nil {
			return res, fmt.Errorf("pie: export %s: %w", host, err)
		}
		bw.WriteString("<host jid='" + escape(host) + "'>\n")
		for _, u := range users {
			account, err := jid.Parse(u)
			if err != nil {
				return res, fmt.Errorf("pie: export %s: %w", u, err)
			}
			n, err := ex.user(ctx, bw, account)
			if err != nil {
				return res, fmt.Errorf("pie: export %s: %w", account, err)
			}
			res.Accounts++
			res.Archived += n
		}
		bw.WriteString("</host>\n")
	}
	bw.WriteString("</server-data>\n")
	return res, bw.Flush()
}

// user writes one <user/> and returns how many archived messages it
// holds. Stored stanzas and payloads are written as they are stored:
// serialised with their namespaces.
func (ex *Exporter) user(ctx context.Context, w *bufio.Writer, account jid.JID) (int, error) {
	domain, name := account.Domainpart(), account.Localpart()
	w.WriteString("<user name='" + escape(name) + "'>\n")
	creds, err := ex.Stores.Accounts.Credentials(ctx, domain, name)
	if err != nil {
		return 0, err
	}
	for _, c := range creds {
		w.Write(scramElement(c).Append(nil, NS))
	}
	ros, pending, err := ex.Stores.Roster.RosterAndPending(ctx, account)
	if err != nil {
		return 0, err
	}
	w.Write(rosterQuery(ros).Append(nil, NS))
	for _, p := range pending {
		w.WriteString(p.Stanza)
	}
	card, err := ex.Stores.VCards.Get(ctx, domain, name)
	switch {
	case err == nil:
		w.Write(card)
	case !errors.Is(err, storage.ErrNotFound):
		return 0, err
	}
	private, err := ex.Stores.Private.All(ctx, domain, name)
	if err != nil {
		return 0, err
	}
	for _, p := range private {
		w.Write(p)
	}
	offline, err := ex.Stores.Offline.All(ctx, domain, name)
	if err != nil {
		return 0, err
	}
	if len(offline) > 0 {
		w.WriteString("<offline-messages>")
		for _, m := range offline {
			// The date it was stored is in the stamp of the delay it is
			// delivered with, which an import keeps.
			st, err := xmlstream.ParseStored(m.Stanza)
			if err != nil {
				return 0, fmt.Errorf("offline message %d: %w", m.ID, err)
			}
			w.Write(offlinepkg.Delayed(st, domain, m.Stamp).Append(nil, NS))
		}
		w.WriteString("</offline-messages>\n")
	}
	blocked, err := ex.Stores.Blocking.List(ctx, account)
	if err != nil {
		return 0, err
	}
	if len(blocked) > 0 {
		slices.SortFunc(blocked, func(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) })
		w.Write(privacyQuery(blocked).Append(nil, NS))
	}
	if err := ex.pep(ctx, w, account); err != nil {
		return 0, err
	}
	n, err := ex.archive(ctx, w, account)
	if err != nil {
		return 0, err
	}
	w.WriteString("</user>\n")
	return n, nil
}

// scramElement is c as <scram-credentials/> of urn:xmpp:pie:0#scram.
func scramElement(c auth.Credential) *xmlstream.Element {
	el := xmlstream.NewElement(NSSCRAM, "scram-credentials", "mechanism", "SCRAM-"+c.Hash)
	for _, f := range []struct{ name, value string }{
		{"iter-count", strconv.Itoa(c.Iterations)},
		{"salt", base64.StdEncoding.EncodeToString(c.Salt)},
		{"server-key", base64.StdEncoding.EncodeToString(c.ServerKey)},
		{"stored-key", base64.StdEncoding.EncodeToString(c.StoredKey)},
	} {
		el.AddChild(xmlstream.NewElement(NSSCRAM, f.name).AddText(f.value))
	}
	return el
}

// rosterQuery is ros as a jabber:iq:roster <query/>.
func rosterQuery(ros roster.Roster) *xmlstream.Element {
	q := xmlstream.NewElement(nsRoster, "query")
	for _, it := range ros.Items {
		q.AddChild(roster.ItemElement(it))
	}
	return q
}

// pep writes the account's PEP nodes: their items in a pubsub <pubsub/>,
// their configurations in a pubsub#owner one.
func (ex *Exporter) pep(ctx context.Context, w *bufio.Writer, account jid.JID) error {
	nodes, err := ex.Stores.PEP.Nodes(ctx, account)
	if err != nil || len(nodes) == 0 {
		return err
	}
	owner := xmlstream.NewElement(nsOwner, "pubsub")
	for _, n := range nodes {
		owner.AddChild(xmlstream.NewElement(nsOwner, "configure", "node", n.Name).AddChild(n.Config.Form().Element()))
	}
	w.Write(owner.Append(nil, NS))
	w.WriteString("<pubsub xmlns='" + nsPubsub + "'>")
	for _, n := range nodes {
		_, items, err := ex.Stores.PEP.Items(ctx, account, n.Name, nil, math.MaxInt32)
		if err != nil {
			return err
		}
		w.WriteString("<items node='" + escape(n.Name) + "'>")
		for _, it := range items {
			w.WriteString("<item id='" + escape(it.ID) + "'>")
			w.Write(it.Payload)
			w.WriteString("</item>")
		}
		w.WriteString("</items>")
	}
	w.WriteString("</pubsub>\n")
	return nil
}

// archive writes the account's message archive as Prosody does: each
// message forwarded with its date in a <result/>.
func (ex *Exporter) archive(ctx context.Context, w *bufio.Writer, account jid.JID) (int, error) {
	n := 0
	for after := int64(math.MinInt64); ; {
		page, err := ex.Stores.Archive.After(ctx, account.Domainpart(), account.Localpart(), after, archivePage)
		if err != nil {
			return n, err
		}
		if n == 0 && len(page) > 0 {
			w.WriteString("<archive xmlns='" + NSMAM + "'>\n")
		}
		for _, m := range page {
			id := strconv.FormatInt(m.ID, 10)
			w.WriteString("<result xmlns='urn:xmpp:mam:2' id='" + id + "'><forwarded xmlns='" + nsForward + "'>" +
				"<delay xmlns='" + nsDelay + "' stamp='" + m.Stamp.UTC().Format("2006-01-02T15:04:05.000000Z") + "'/>")
			w.Write(m.Stanza)
			w.WriteString("</forwarded></result>\n")
			after = m.ID
			n++
		}
		if len(page) < archivePage {
			break
		}
	}
	if n > 0 {
		w.WriteString("</archive>\n")
	}
	return n, nil
}

// escape returns s escaped for an attribute value in single quotes.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
