// Package pie imports accounts and their data from files in XEP-0227's
// Portable Import/Export format (version 1.1, namespace urn:xmpp:pie:0,
// and the older http://www.xmpp.org/extensions/xep-0227.html#ns), as
// ejabberd's export_piefxis and Prosody's mod_storage_xep0227 write
// them, so that a server's users move to xmppd without new passwords.
//
// Imported for each <user/> of a served <host/>:
//
//   - the account, with its SCRAM credentials (<scram-credentials/> of
//     urn:xmpp:pie:0#scram, or ejabberd's password='scram:...') or, when
//     the file has it, a plaintext password from which credentials are
//     derived;
//   - the roster (jabber:iq:roster) and the pending incoming subscription
//     requests (<presence type='subscribe'/>);
//   - the vCard (vcard-temp) and private XML storage (jabber:iq:private),
//     whose XEP-0048 bookmarks become XEP-0402's in PEP when the server
//     starts;
//   - offline messages, oldest first;
//   - PEP nodes with their configuration and items (pubsub#owner
//     <configure/> and pubsub <items/>);
//   - the blocklist, from the default privacy list;
//   - the message archive (<archive xmlns='urn:xmpp:pie:0#mam'/>, as
//     Prosody writes it): the messages, with their dates, take their
//     place in the archive when Finish is called, after every file.
//
// An account that exists already is left as it is, with nothing of the
// file's data added, and reported; one whose data fails to be stored is
// removed again, with what was stored of it, and the import fails.
// XInclude <include href='...'/> elements with a relative href are
// followed, as the XEP requires.
// Of privacy lists (XEP-0016, as ejabberd exports them), the default
// list's items that deny everything from a JID are imported as the
// blocklist (XEP-0191), which is what ejabberd keeps its blocklists as;
// other items are reported as skipped.
//
// Exporter writes the same format: the accounts of the served hosts with
// what Importer reads.
package pie

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/blocking"
	"xmppd/dataform"
	"xmppd/mam"
	"xmppd/offline"
	"xmppd/pep"
	"xmppd/private"
	"xmppd/roster"
	"xmppd/storage"
	"xmppd/vcard"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0227 and of what it holds.
const (
	NS        = "urn:xmpp:pie:0"
	NSOld     = "http://www.xmpp.org/extensions/xep-0227.html#ns"
	NSSCRAM   = "urn:xmpp:pie:0#scram"
	NSMAM     = "urn:xmpp:pie:0#mam"
	nsInclude = "http://www.w3.org/2001/XInclude"
	nsRoster  = "jabber:iq:roster"
	nsPubsub  = "http://jabber.org/protocol/pubsub"
	nsOwner   = "http://jabber.org/protocol/pubsub#owner"
	nsClient  = "jabber:client"
	nsForward = "urn:xmpp:forward:0"
	nsPrivacy = "jabber:iq:privacy"
	nsDelay   = "urn:xmpp:delay"
	// bookmarksNode is XEP-0402's node, which holds room passwords.
	bookmarksNode = "urn:xmpp:bookmarks:1"
)

// maxIncludeDepth bounds nested XIncludes (server-data, host, user).
const maxIncludeDepth = 4

// Accounts creates accounts.
type Accounts interface {
	// Create makes the account with creds; storage.ErrExists when it
	// exists.
	Create(ctx context.Context, domain, username string, creds []auth.Credential) error
	// Delete removes the account and everything of it.
	Delete(ctx context.Context, domain, username string) error
}

// Stores are where the data goes.
type Stores struct {
	Accounts Accounts
	Roster   roster.Store
	VCards   vcard.Store
	Private  private.Store
	Offline  offline.Store
	PEP      pep.Store
	Archive  Archive
	Blocking blocking.Store
}

// Archive keeps imported message archives.
type Archive interface {
	// ImportArchived stores entries, entries[i] stamped stamps[i], to be
	// placed by PlaceImported.
	ImportArchived(ctx context.Context, entries []mam.Entry, stamps []time.Time) error
	// PlaceImported gives the stored messages their place among the
	// archived ones, and returns how many it placed and how many it
	// dropped because they are not older than every message archived
	// before the import, or are dated in the future.
	PlaceImported(ctx context.Context) (placed, dropped int64, err error)
	// Earliest returns the date of the earliest message archived, false
	// when there is none.
	Earliest(ctx context.Context) (time.Time, bool, error)
}

// Limits are the server's limits the imported data must keep.
type Limits struct {
	RosterItems  int
	VCardBytes   int
	PrivateBytes int
	OfflineQuota int
	PEPMaxItems  int
	PEP          pep.Limits
	// Iterations is the PBKDF2 iteration count of credentials derived
	// from plaintext passwords.
	Iterations int
}

// Result counts what was imported; Notes says what was not, and why.
type Result struct {
	Accounts, RosterItems, Pending, VCards, Private, Offline, Nodes, Items, Blocked int
	// Archived counts the messages read into archives; Finish tells how
	// many took their place.
	Archived int
	// Hashes counts the imported accounts with credentials of each hash
	// (auth.HashSHA1 ...), of Credentialed accounts with credentials:
	// those with some only log in by their SCRAM mechanisms
	// (c2s.scram_hashes).
	Hashes       map[string]int
	Credentialed int
	Notes        []string
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Importer imports files into the stores.
type Importer struct {
	Stores Stores
	Limits Limits
	// Hosts are the domains served; users of other hosts are skipped.
	Hosts []string
}

// ErrArchiveOverlap is returned, wrapped, by CheckArchives when archived
// messages to import are not older than every message archived here:
// they could not take their place, and Finish would drop them.
var ErrArchiveOverlap = errors.New("the archives to import overlap the messages archived here")

// CheckArchives reads the files at paths, without importing anything,
// and fails with ErrArchiveOverlap when the newest archived message they
// hold is not older than the earliest one archived here already.
func (im *Importer) CheckArchives(ctx context.Context, paths []string) error {
	earliest, ok, err := im.Stores.Archive.Earliest(ctx)
	if err != nil || !ok {
		return err
	}
	var latest time.Time
	newest := func(ctx context.Context, res *Result, host string, user *xmlstream.Element) error {
		account, err := jid.New(user.Attr("name"), host, "")
		if err != nil {
			return nil
		}
		for _, a := range user.ChildElements() {
			if a.Name.Space != NSMAM || a.Name.Local != "archive" {
				continue
			}
			for _, r := range a.ChildElements() {
				if _, stamp, ok := archivedMessage(account, r); ok && stamp.After(latest) {
					latest = stamp
				}
			}
		}
		return nil
	}
	for _, path := range paths {
		if err := im.file(ctx, &Result{}, path, "", 0, newest); err != nil {
			return err
		}
	}
	if !latest.IsZero() && !latest.Before(earliest) {
		return fmt.Errorf("%w: the files hold messages up to %s, and this server archived messages since %s", ErrArchiveOverlap,
			latest.UTC().Format(time.RFC3339), earliest.UTC().Format(time.RFC3339))
	}
	return nil
}

// Finish places the messages of the archives imported
// (Archive.PlaceImported), with any an interrupted import left. Call it
// once every file is imported: the messages of all accounts take their
// places together, and those not older than what was archived before are
// dropped and noted.
func (im *Importer) Finish(ctx context.Context) (Result, error) {
	var res Result
	placed, dropped, err := im.Stores.Archive.PlaceImported(ctx)
	if err != nil {
		return res, fmt.Errorf("pie: %w", err)
	}
	res.Archived = int(placed)
	if dropped > 0 {
		res.note("%d archived messages were left out: they are dated in the future, or not before the earliest message archived here before the import (import every account's archive in one run, before the server is used)", dropped)
	}
	return res, nil
}

// Import imports the file at path, which holds a <server-data/>, a
// <host/> or a <user/> of another file's host. The file is read one
// <user/> at a time: an export of a whole server needs the memory of its
// bytes and of its largest account, not of the parsed document.
func (im *Importer) Import(ctx context.Context, path string) (Result, error) {
	var res Result
	err := im.file(ctx, &res, path, "", 0, im.user)
	return res, err
}

// user imports one account and its data.
func (im *Importer) user(ctx context.Context, res *Result, host string, el *xmlstream.Element) error {
	account, err := jid.New(el.Attr("name"), host, "")
	if err != nil || account.Localpart() == "" {
		res.note("skipped user %q of %s: not a valid name", el.Attr("name"), host)
		return nil
	}
	creds, err := im.credentials(el)
	if err != nil {
		res.note("skipped %s: %v", account, err)
		return nil
	}
	if len(creds) == 0 {
		res.note("%s has no password or SCRAM credentials in the file: set one with 'xmppd user passwd %s'", account, account)
	}
	err = im.Stores.Accounts.Create(ctx, host, account.Localpart(), creds)
	if errors.Is(err, storage.ErrExists) {
		res.note("skipped %s: the account exists here", account)
		return nil
	}
	if err != nil {
		return fmt.Errorf("pie: create %s: %w", account, err)
	}
	res.Accounts++
	if len(creds) > 0 {
		res.Credentialed++
	}
	for _, c := range creds {
		if res.Hashes == nil {
			res.Hashes = map[string]int{}
		}
		res.Hashes[c.Hash]++
	}
	err = nil
	for _, c := range el.ChildElements() {
		if err = im.data(ctx, res, account, c); err != nil {
			break
		}
	}
	if err == nil {
		err = im.pep(ctx, res, account, el)
	}
	if err != nil {
		// The account was created here: with it goes what was stored of
		// it, so that no half-imported account is left, which an import
		// of the file again would skip as existing.
		if derr := im.Stores.Accounts.Delete(context.WithoutCancel(ctx), host, account.Localpart()); derr != nil {
			err = errors.Join(err, derr)
		}
		res.Accounts--
		return fmt.Errorf("pie: import %s: %w", account, err)
	}
	return nil
}

// credentials returns the credentials of a <user/>: derived from its
// password if it has one, else its SCRAM credentials, the first of each
// hash (Prosody 0.12 writes each three times).
func (im *Importer) credentials(el *xmlstream.Element) ([]auth.Credential, error) {
	if p, ok := strings.CutPrefix(el.Attr("password"), "scram:"); ok {
		// ejabberd's export of a SCRAM-stored password,
		// StoredKey,ServerKey,salt,iterations; anything else is a
		// plaintext password that starts so.
		if parts := strings.Split(p, ","); len(parts) == 4 {
			if c, err := scramCredential("", parts[3], parts[2], parts[0], parts[1]); err == nil {
				return []auth.Credential{c}, nil
			}
		}
	}
	if p := el.Attr("password"); p != "" {
		return auth.DeriveCredentials(p, im.Limits.Iterations)
	}
	var creds []auth.Credential
	for _, s := range el.ChildElements() {
		if s.Name.Space != NSSCRAM || s.Name.Local != "scram-credentials" {
			continue
		}
		if scramHashes[s.Attr("mechanism")] == "" {
			continue // a mechanism this server does not have
		}
		c, err := scramCredential(s.Attr("mechanism"), childText(s, "iter-count"), childText(s, "salt"), childText(s, "stored-key"), childText(s, "server-key"))
		if err != nil {
			return nil, fmt.Errorf("its %s credentials: %w", s.Attr("mechanism"), err)
		}
		if !slices.ContainsFunc(creds, func(o auth.Credential) bool { return o.Hash == c.Hash }) {
			creds = append(creds, c)
		}
	}
	return creds, nil
}

// scramCredential makes a credential of the base64 salt and keys and the
// iteration count that an export gives for mechanism. Exports are not
// always what they say:
//   - Prosody's migrator labels credentials with its own password_hash
//     setting, not the one that made them, and ejabberd's scram: password
//     names no hash at all: the keys' size tells;
//   - ejabberd keeps salt and keys in base64 and encodes them once more
//     when it exports them: keys of no hash's size are decoded again,
//     with the salt.
func scramCredential(mechanism, iterations, salt, storedKey, serverKey string) (auth.Credential, error) {
	var c auth.Credential
	var err error
	c.Iterations, err = strconv.Atoi(iterations)
	if err != nil {
		return c, errors.New("the iteration count is not a number")
	}
	fields := []*[]byte{&c.Salt, &c.StoredKey, &c.ServerKey}
	for i, text := range []string{salt, storedKey, serverKey} {
		if *fields[i], err = base64.StdEncoding.DecodeString(text); err != nil {
			return c, errors.New("the salt and keys are not base64")
		}
	}
	if !slices.Contains([]int{sha1.Size, sha256.Size, sha512.Size}, len(c.StoredKey)) {
		for _, f := range fields {
			if *f, err = base64.StdEncoding.DecodeString(string(*f)); err != nil {
				return c, errors.New("the keys are of no SCRAM hash's size")
			}
		}
	}
	if c.Iterations > maxIterations {
		return c, fmt.Errorf("%d iterations: more than %d", c.Iterations, maxIterations)
	}
	if c.Hash = scramHashes[mechanism]; auth.ValidCredential(c) {
		return c, nil
	}
	for _, h := range scramHashes {
		if c.Hash = h; auth.ValidCredential(c) {
			return c, nil
		}
	}
	return c, errors.New("they are not valid SCRAM credentials")
}

// scramHashes are the SCRAM mechanisms whose credentials are imported.
var scramHashes = map[string]string{"SCRAM-SHA-1": auth.HashSHA1, "SCRAM-SHA-256": auth.HashSHA256, "SCRAM-SHA-512": auth.HashSHA512}

// maxIterations bounds an imported iteration count: every PLAIN login
// runs that many rounds.
const maxIterations = 1 << 20

// childText returns the trimmed text of the child local of a SCRAM
// credentials element, or "" when there is none.
func childText(el *xmlstream.Element, local string) string {
	if c := el.Child(NSSCRAM, local); c != nil {
		return strings.TrimSpace(c.Text())
	}
	return ""
}

// data imports one child of a <user/>.
func (im *Importer) data(ctx context.Context, res *Result, account jid.JID, c *xmlstream.Element) error {
	domain, user := account.Domainpart(), account.Localpart()
	switch {
	case c.Name.Space == nsRoster && c.Name.Local == "query":
		return im.roster(ctx, res, account, c)
	case isStanza(c, "presence") && c.Attr("type") == "subscribe":
		return im.pending(ctx, res, account, toClient(c))
	case c.Name.Space == vcard.NS && c.Name.Local == "vCard":
		data := c.Append(nil, "")
		if len(data) > im.Limits.VCardBytes {
			res.note("%s: the vCard was left out: %d bytes, over the limit of %d", account, len(data), im.Limits.VCardBytes)
			return nil
		}
		if err := im.Stores.VCards.Set(ctx, domain, user, data, vcard.PhotoHash(c)); err != nil {
			return err
		}
		res.VCards++
	case c.Name.Space == private.NS && c.Name.Local == "query":
		return im.private(ctx, res, account, c)
	case (c.Name.Space == NS || c.Name.Space == NSOld) && c.Name.Local == "offline-messages":
		for _, m := range c.ChildElements() {
			if !isStanza(m, "message") {
				continue
			}
			// A stanza id by the account names a message of the other
			// server's archive.
			m = mam.StripStanzaIDs(toClient(m), account.String())
			err := im.Stores.Offline.Add(ctx, domain, user, m.Append(nil, ""), 0, im.Limits.OfflineQuota)
			if errors.Is(err, offline.ErrFull) {
				res.note("%s: offline messages beyond the quota of %d were left out", account, im.Limits.OfflineQuota)
				return nil
			}
			if err != nil {
				return err
			}
			res.Offline++
		}
	case c.Name.Space == NSSCRAM || c.Name.Space == nsPubsub || c.Name.Space == nsOwner:
		// Credentials and PEP are read from the <user/> as a whole.
	case c.Name.Space == NSMAM && c.Name.Local == "archive":
		return im.archive(ctx, res, account, c)
	case c.Name.Space == nsPrivacy && c.Name.Local == "query":
		return im.privacy(ctx, res, account, c)
	default:
		res.note("%s: skipped <%s xmlns='%s'>", account, c.Name.Local, c.Name.Space)
	}
	return nil
}

// archiveBatch is how many archived messages are stored at once.
const archiveBatch = 500

// archive imports a message archive as Prosody writes it: <result/>
// elements (urn:xmpp:mam:2), each with a <forwarded/> holding the
// message and its <delay/>.
func (im *Importer) archive(ctx context.Context, res *Result, account jid.JID, a *xmlstream.Element) error {
	var entries []mam.Entry
	var stamps []time.Time
	store := func() error {
		if len(entries) == 0 {
			return nil
		}
		if err := im.Stores.Archive.ImportArchived(ctx, entries, stamps); err != nil {
			return err
		}
		res.Archived += len(entries)
		entries, stamps = entries[:0], stamps[:0]
		return nil
	}
	skipped := 0
	for _, r := range a.ChildElements() {
		e, stamp, ok := archivedMessage(account, r)
		if !ok {
			skipped++
			continue
		}
		entries, stamps = append(entries, e), append(stamps, stamp)
		if len(entries) == archiveBatch {
			if err := store(); err != nil {
				return err
			}
		}
	}
	if skipped > 0 {
		res.note("%s: %d archived messages were skipped: not a <result/> with a dated message to or from the account", account, skipped)
	}
	return store()
}

// archivedMessage returns the archive row and the date of r, a <result/>
// of account's archive.
func archivedMessage(account jid.JID, r *xmlstream.Element) (mam.Entry, time.Time, bool) {
	fwd := r.Child(nsForward, "forwarded")
	if r.Name.Local != "result" || fwd == nil {
		return mam.Entry{}, time.Time{}, false
	}
	d := fwd.Child(nsDelay, "delay")
	var msg *xmlstream.Element
	for _, c := range fwd.ChildElements() {
		if isStanza(c, "message") {
			msg = c
		}
	}
	if d == nil || msg == nil {
		return mam.Entry{}, time.Time{}, false
	}
	stamp, err := time.Parse(time.RFC3339, d.Attr("stamp"))
	if err != nil {
		return mam.Entry{}, time.Time{}, false
	}
	e, ok := mam.ImportedEntry(account, toClient(msg))
	return e, stamp, ok
}

// isStanza reports whether el is a stanza named local: in jabber:client,
// or in XEP-0227's namespace, where Prosody writes stanzas without their
// own.
func isStanza(el *xmlstream.Element, local string) bool {
	return el.Name.Local == local && (el.Name.Space == nsClient || el.Name.Space == NS || el.Name.Space == NSOld)
}

// toClient returns el with itself and its descendants in XEP-0227's
// namespace moved to jabber:client.
func toClient(el *xmlstream.Element) *xmlstream.Element {
	el = el.Copy()
	var walk func(e *xmlstream.Element)
	walk = func(e *xmlstream.Element) {
		if e.Name.Space == NS || e.Name.Space == NSOld {
			e.Name.Space = nsClient
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(el)
	return el
}

// roster imports the items of a roster query.
func (im *Importer) roster(ctx context.Context, res *Result, account jid.JID, q *xmlstream.Element) error {
	for _, it := range q.ChildElements() {
		contact, err := jid.Parse(it.Attr("jid"))
		sub := roster.Subscription(it.Attr("subscription"))
		if sub == "" {
			sub = roster.None
		}
		if err != nil || contact.Resourcepart() != "" || !slices.Contains([]roster.Subscription{roster.None, roster.To, roster.From, roster.Both}, sub) {
			res.note("%s: skipped the roster item %s", account, it)
			continue
		}
		approved, _ := dataform.ParseBool(it.Attr("approved"))
		item := roster.Item{Contact: contact, Name: it.Attr("name"), Subscription: sub, Ask: it.Attr("ask") == "subscribe", Approved: approved}
		for _, g := range it.ChildElements() {
			if g.Name.Local == "group" && g.Text() != "" && !slices.Contains(item.Groups, g.Text()) {
				item.Groups = append(item.Groups, g.Text())
			}
		}
		_, err = im.Stores.Roster.Update(ctx, account, contact, im.Limits.RosterItems, func(st roster.State) (roster.State, error) {
			st.InRoster, st.Item = true, item
			return st, nil
		})
		if errors.Is(err, roster.ErrTooManyItems) {
			res.note("%s: roster items beyond the limit of %d were left out", account, im.Limits.RosterItems)
			return nil
		}
		if err != nil {
			return err
		}
		res.RosterItems++
	}
	return nil
}

// pending imports an incoming subscription request.
func (im *Importer) pending(ctx context.Context, res *Result, account jid.JID, p *xmlstream.Element) error {
	from, err := jid.Parse(p.Attr("from"))
	if err != nil {
		res.note("%s: skipped a subscription request without a valid from", account)
		return nil
	}
	p.SetAttr("from", from.Bare().String())
	p.SetAttr("to", account.String())
	stanza := string(p.Append(nil, ""))
	_, err = im.Stores.Roster.Update(ctx, account, from.Bare(), im.Limits.RosterItems, func(st roster.State) (roster.State, error) {
		st.PendingIn = stanza
		return st, nil
	})
	if err == nil {
		res.Pending++
	}
	return err
}

// private imports private XML storage, one namespace at a time.
func (im *Importer) private(ctx context.Context, res *Result, account jid.JID, q *xmlstream.Element) error {
	byNS := map[string]*xmlstream.Element{}
	var order []string
	for _, c := range q.ChildElements() {
		if byNS[c.Name.Space] == nil {
			byNS[c.Name.Space] = xmlstream.NewElement(private.NS, "query")
			order = append(order, c.Name.Space)
		}
		byNS[c.Name.Space].AddChild(c)
	}
	for _, ns := range order {
		err := im.Stores.Private.Set(ctx, account.Domainpart(), account.Localpart(), ns, byNS[ns].Append(nil, ""), im.Limits.PrivateBytes)
		if errors.Is(err, private.ErrTooLarge) {
			res.note("%s: private data of %s left out: over the limit of %d bytes", account, ns, im.Limits.PrivateBytes)
			continue
		}
		if err != nil {
			return err
		}
		res.Private++
	}
	return nil
}

// pep imports the PEP nodes of a <user/>: each node of the pubsub
// <items/>, with the configuration of its pubsub#owner <configure/>.
func (im *Importer) pep(ctx context.Context, res *Result, account jid.JID, user *xmlstream.Element) error {
	configs := map[string]dataform.Form{}
	if owner := user.Child(nsOwner, "pubsub"); owner != nil {
		for _, c := range owner.ChildElements() {
			if f, ok := dataform.Find(c.ChildElements(), pep.NSConfig); ok && c.Name.Local == "configure" {
				configs[c.Attr("node")] = f
			}
		}
	}
	items := user.Child(nsPubsub, "pubsub")
	if items == nil {
		return nil
	}
	for _, n := range items.ChildElements() {
		node := n.Attr("node")
		if n.Name.Local != "items" || node == "" {
			continue
		}
		if len(node) > pep.MaxNodeName {
			res.note("%s: a node with a name of %d bytes left out: over the limit of %d", account, len(node), pep.MaxNodeName)
			continue
		}
		cfg, ignored := pep.ConfigFromForm(configs[node], im.Limits.PEPMaxItems)
		if len(ignored) > 0 {
			res.note("%s: node %s: configuration fields %v not kept", account, node, ignored)
		}
		// What the form did not say, or said in a way this server does
		// not take, must not lose items or open the node: it keeps all
		// its items, and its access is the owner's alone.
		cfg.MaxItems = max(cfg.MaxItems, min(len(n.ChildElements()), im.Limits.PEPMaxItems))
		if slices.Contains(ignored, "pubsub#access_model") || node == bookmarksNode {
			cfg.Access = pep.Whitelist
		}
		err := im.Stores.PEP.Create(ctx, account, node, cfg, im.Limits.PEP)
		switch {
		case errors.Is(err, pep.ErrTooManyNodes):
			res.note("%s: node %s left out: the account has as many nodes as it may", account, node)
			continue
		case errors.Is(err, pep.ErrExists):
			// A node named twice in the file: its items join the first's.
		case err != nil:
			return err
		default:
			res.Nodes++
		}
		for _, it := range n.ChildElements() {
			payload := it.FirstChildElement()
			if it.Name.Local != "item" || it.Attr("id") == "" || payload == nil {
				continue
			}
			if len(it.Attr("id")) > pep.MaxItemID {
				res.note("%s: an item of %s with an id of %d bytes left out: over the limit of %d", account, node, len(it.Attr("id")), pep.MaxItemID)
				continue
			}
			item := pep.Item{ID: it.Attr("id"), Payload: payload.Append(nil, "")}
			_, err := im.Stores.PEP.Publish(ctx, account, node, cfg, func(pep.NodeConfig) error { return nil }, item, im.Limits.PEP)
			if errors.Is(err, pep.ErrTooLarge) {
				res.note("%s: items of %s left out: over the account's PEP size limit", account, node)
				break
			}
			if err != nil {
				return err
			}
			res.Items++
		}
	}
	return nil
}
