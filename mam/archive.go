package mam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// nsMUCUser marks private messages from room occupants (XEP-0045 §7.5).
const nsMUCUser = "http://jabber.org/protocol/muc#user"

// stampLayout is the XEP-0082 DateTime profile, in UTC with milliseconds.
const stampLayout = "2006-01-02T15:04:05.000Z"

// Archive stores st, a message from from to to (one of them a local
// account), in the archives it belongs to and changes st in place for
// delivery: without any <stanza-id/> claiming to be by the sender's or the
// recipient's account, when that is a local one (XEP-0359 §5: only this
// server may say so; a room of another server says so of its own
// messages), and with the recipient's own when it was archived. It
// returns st after the commit. st is changed
// rather than copied because the stream layer follows a routed stanza by
// its identity until it is safe (stream-management acks).
func (m *Module) Archive(ctx context.Context, from, to jid.JID, st *xmlstream.Element) (*xmlstream.Element, error) {
	out := StripStanzaIDs(st, m.localAccounts(from, to)...)
	if !archivable(out) {
		return out, nil
	}
	entries, recipient := m.entries(from, to, out)
	if len(entries) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ids, err := m.w.submit(ctx, entries)
	switch {
	case errors.Is(err, errBusy):
		return nil, &router.StanzaError{Condition: stanza.ResourceConstraint, Text: "the message archive is busy"}
	case err != nil:
		return nil, fmt.Errorf("archiving a message to %s: %w", to.Bare(), err)
	}
	if entries[0].Outgoing && ids[0] != 0 {
		// For the sender's carbons (XEP-0313 §3.5), never the recipient.
		router.SetSenderArchiveID(ctx, out, strconv.FormatInt(ids[0], 10))
	}
	if recipient >= 0 && ids[recipient] != 0 {
		out.AddChild(xmlstream.NewElement(NSSID, "stanza-id", "by", to.Bare().String(), "id", strconv.FormatInt(ids[recipient], 10)))
	}
	if r := out.Child(NSRetract, "retract"); r != nil && r.Attr("id") != "" {
		m.retract(ctx, from, to, out, r.Attr("id"), retractionID(out))
	}
	return out, nil
}

// Unarchive withdraws st, which Archive stored in owner's archive and
// stamped with its <stanza-id/>, from that archive: the router bounced
// it to its sender, so it was neither delivered nor kept offline. The
// row becomes a placeholder (withdrawn) rather than a hole, which
// XEP-0313 §3.2 forbids. It runs even when the session whose stanza it
// was ends meanwhile, so that the archive and the sender's error agree.
func (m *Module) Unarchive(ctx context.Context, owner jid.JID, st *xmlstream.Element) error {
	sid := archiveID(st, owner)
	if sid == "" {
		return nil
	}
	id, err := strconv.ParseInt(sid, 10, 64)
	if err != nil {
		return fmt.Errorf("withdrawing message %q from the archive of %s: not an archive id", sid, owner)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := m.cfg.Store.Withdraw(ctx, owner.Domainpart(), owner.Localpart(), id, withdrawn(st).Append(nil, "")); err != nil {
		return fmt.Errorf("withdrawing message %d from the archive of %s: %w", id, owner, err)
	}
	return nil
}

// archiveID returns the id of the <stanza-id/> by owner's archive on st,
// or "". Archive removed those a sender forged before adding its own.
func archiveID(st *xmlstream.Element, owner jid.JID) string {
	for _, e := range st.ChildElements() {
		if e.Name.Space == NSSID && e.Name.Local == "stanza-id" && claims(e.Attr("by"), []string{owner.Bare().String()}) {
			return e.Attr("id")
		}
	}
	return ""
}

// withdrawn is the placeholder of the bounced message st in its
// recipient's archive (XEP-0313 §3.2): its addresses, type and id,
// without any content for a client to show.
func withdrawn(st *xmlstream.Element) *xmlstream.Element {
	p := &xmlstream.Element{Name: st.Name}
	for _, a := range st.Attrs {
		switch a.Name.Local {
		case "from", "to", "type", "id":
			if a.Name.Space == "" {
				p.Attrs = append(p.Attrs, a)
			}
		}
	}
	return p
}

// entries returns the archive rows for st: the sender's and the
// recipient's, each when local; a message to oneself is stored once.
// recipient is the index of the recipient's row, or -1 for a remote one.
func (m *Module) entries(from, to jid.JID, st *xmlstream.Element) (entries []Entry, recipient int) {
	shared := newEntry(st)
	if m.r.IsLocal(from.Domainpart()) && from.Localpart() != "" && !from.Bare().Equal(to.Bare()) {
		entries = append(entries, shared.of(from, to, true))
	}
	if !m.r.IsLocal(to.Domainpart()) {
		return entries, -1
	}
	recipient = len(entries)
	entries = append(entries, shared.of(to, from, false))
	return entries, recipient
}

// ImportedEntry returns the row of owner's archive for st, a message of
// that archive as another server kept it (an export, XEP-0227): sent by
// owner when its 'from' is owner's, else received. It is false for an
// error, and for a message that names owner neither as its sender nor as
// its recipient. Stanza ids by either party were the other server's (or
// claimed to be), and are left out, as Archive leaves them out.
func ImportedEntry(owner jid.JID, st *xmlstream.Element) (Entry, bool) {
	from, err := jid.Parse(st.Attr("from"))
	to, err2 := jid.Parse(st.Attr("to"))
	if err != nil || err2 != nil || stanza.Type(st) == "error" {
		return Entry{}, false
	}
	st = StripStanzaIDs(st.Copy(), from.Bare().String(), to.Bare().String())
	switch {
	case from.Bare().Equal(owner):
		return newEntry(st).of(owner, to, true), true
	case to.Bare().Equal(owner):
		return newEntry(st).of(owner, from, false), true
	}
	return Entry{}, false
}

// newEntry returns what every archive row of st holds: the stanza, its
// body, its origin id and the id a correction replaces.
func newEntry(st *xmlstream.Element) Entry {
	e := Entry{OriginID: originID(st), Stanza: st.Append(nil, "")}
	if b := st.Child(st.Name.Space, "body"); b != nil {
		e.Body = b.Text()
	}
	if r := st.Child(NSCorrect, "replace"); r != nil {
		e.Replaces = r.Attr("id")
	}
	return e
}

// of returns e as the row of owner's archive, other being the other party.
func (e Entry) of(owner, other jid.JID, outgoing bool) Entry {
	e.Domain, e.Username = owner.Domainpart(), owner.Localpart()
	e.With, e.WithResource, e.Outgoing = other.Bare().String(), other.Resourcepart(), outgoing
	return e
}

// archivable reports whether a user archive keeps st (XEP-0313 §5.1.1):
// a message of type chat or normal that is Worth keeping.
func archivable(st *xmlstream.Element) bool {
	switch stanza.Type(st) {
	case "chat", "normal":
		return Worth(st)
	}
	return false
}

// Worth reports whether an archive keeps the message st, of a type it
// archives (XEP-0334): one with a body, or with a <store/> hint, never
// with <no-store/> or <no-permanent-store/>. A retraction is kept even
// without a body (XEP-0424 §5), and so is an encrypted message
// (encrypted). Room archives use it too.
func Worth(st *xmlstream.Element) bool {
	if st.Child(NSHints, "no-store") != nil || st.Child(NSHints, "no-permanent-store") != nil {
		return false
	}
	return st.Child(st.Name.Space, "body") != nil || st.Child(NSHints, "store") != nil || st.Child(NSRetract, "retract") != nil ||
		encrypted(st)
}

// encrypted reports whether st carries an end-to-end encrypted message,
// which has no body to show but is the conversation, read back from the
// archive: OMEMO with a payload (XEP-0384, both namespaces; one without
// is a key transport), OpenPGP (XEP-0373), or any message marked with
// XEP-0380's <encryption/>.
func encrypted(st *xmlstream.Element) bool {
	for _, ns := range []string{"urn:xmpp:omemo:2", "eu.siacs.conversations.axolotl"} {
		if e := st.Child(ns, "encrypted"); e != nil && e.Child(ns, "payload") != nil {
			return true
		}
	}
	return st.Child("urn:xmpp:openpgp:0", "openpgp") != nil || st.Child("urn:xmpp:eme:0", "encryption") != nil
}

// localAccounts returns the bare JIDs of those of js that are accounts of
// this server.
func (m *Module) localAccounts(js ...jid.JID) []string {
	var local []string
	for _, j := range js {
		if j.Localpart() != "" && m.r.IsLocal(j.Domainpart()) {
			local = append(local, j.Bare().String())
		}
	}
	return local
}

// StripStanzaIDs removes from st the <stanza-id/> elements whose 'by' is
// one of the given bare JIDs, and returns st. A 'by' is compared as the
// JID it is, as clients compare it: written in other case, or with a
// resource, it still names that account (XEP-0359 §5).
func StripStanzaIDs(st *xmlstream.Element, by ...string) *xmlstream.Element {
	kept := st.Children[:0]
	for _, c := range st.Children {
		if e, ok := c.(*xmlstream.Element); ok && e.Name.Space == NSSID && e.Name.Local == "stanza-id" && claims(e.Attr("by"), by) {
			continue
		}
		kept = append(kept, c)
	}
	st.Children = kept
	return st
}

// claims reports whether the JID by, or its bare JID, is one of the bare
// JIDs in accounts, as written or once normalised.
func claims(by string, accounts []string) bool {
	if slices.Contains(accounts, by) {
		return true
	}
	j, err := jid.Parse(by)
	return err == nil && slices.Contains(accounts, j.Bare().String())
}

// originID returns st's XEP-0359 origin-id, else its 'id'.
func originID(st *xmlstream.Element) string {
	if o := st.Child(NSSID, "origin-id"); o != nil && o.Attr("id") != "" {
		return o.Attr("id")
	}
	return st.Attr("id")
}

// retractionID is the id a tombstone names for the retraction st.
func retractionID(st *xmlstream.Element) string { return originID(st) }

// retract replaces the message from retracts by a tombstone in both
// archives. Only messages from the same bare JID are replaced (XEP-0424
// §7); a failure is logged, the retraction itself is archived already.
func (m *Module) retract(ctx context.Context, from, to jid.JID, st *xmlstream.Element, id, by string) {
	stamp := time.Now().UTC().Format(stampLayout)
	sender := from.Bare().String()
	if st.Child(nsMUCUser, "x") != nil && from.Resourcepart() != "" {
		// A private message from a room occupant (XEP-0045 §7.5): every
		// occupant writes from the room's bare JID, the sender is the
		// occupant's full JID (XEP-0424 §7).
		sender = from.String()
	}
	_, err := m.cfg.Store.Retract(ctx, sender, to.Bare().String(), id, func(data []byte) []byte {
		return tombstone(data, by, stamp)
	})
	if err != nil {
		m.cfg.Logger.Error("retracting an archived message", "from", from.String(), "id", id, "err", err)
	}
}

// tombstone returns the archived message data with its content replaced
// by <retracted/> (XEP-0424 §6): the attributes and the XEP-0359 ids stay,
// so clients can match it with the retraction.
func tombstone(data []byte, by, stamp string) []byte {
	st, err := parseStored(data)
	if err != nil {
		return data
	}
	t := &xmlstream.Element{Name: st.Name, Attrs: st.Attrs}
	for _, c := range st.ChildElements() {
		if c.Name.Space == NSSID {
			t.AddChild(c)
		}
	}
	t.AddChild(xmlstream.NewElement(NSRetract, "retracted", "id", by, "stamp", stamp))
	return t.Append(nil, "")
}

func parseStored(data []byte) (*xmlstream.Element, error) {
	return xmlstream.ParseStored(data)
}
