// Package avatar implements XEP-0398: an avatar a client publishes with
// XEP-0084 (PEP) becomes the photo of the account's vCard, which
// XEP-0153 clients and rooms read; a photo set in the vCard becomes the
// XEP-0084 avatar; and every available presence the account's clients
// send, directed ones such as room joins included, carries the photo's
// hash in <x xmlns='vcard-temp:x:update'/>.
//
// Rules:
//
//   - A publish to urn:xmpp:avatar:metadata names the image by its first
//     <info/> without a url; the item of urn:xmpp:avatar:data with that
//     id becomes the vCard's PHOTO if its SHA-1 is the id. A metadata
//     item without <info/> (avatar removed) removes the PHOTO. A vCard
//     that would then exceed vcard.max_bytes keeps its old photo.
//   - A vCard set with a PHOTO publishes its image to the data node and
//     its id, size and type to the metadata node, unless the metadata
//     already names that image. A vCard without PHOTO leaves the PEP
//     avatar alone.
//   - A presence whose update element has a <photo/>, empty or not, is
//     the client's word and left as it is; otherwise the server puts in
//     the hash, when the vCard has a photo.
package avatar

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"

	"xmppd/pep"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/vcard"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0398, XEP-0084 and XEP-0153.
const (
	NS         = "urn:xmpp:pep-vcard-conversion:0"
	NSMetadata = "urn:xmpp:avatar:metadata"
	NSData     = "urn:xmpp:avatar:data"
	NSUpdate   = "vcard-temp:x:update"
)

// maxStoredDepth bounds the nesting of a stored vCard read back.
const maxStoredDepth = 1024

// Config is what the module needs.
type Config struct {
	// PEP is the accounts' PEP service.
	PEP *pep.Service
	// VCards is the vCard module, whose store keeps the photos.
	VCards *vcard.Module
	// Changed, if set, is called when an account's photo changed, so
	// that other nodes of a cluster Forget it.
	Changed func(account jid.JID)
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
}

// maxCached bounds the photo hashes a node keeps; past it, one is dropped
// for each one loaded.
const maxCached = 100_000

// Module converts avatars and puts their hash into presence.
type Module struct {
	Config

	mu sync.Mutex
	// hashes holds the photo hash ("" for none) of accounts, loaded at
	// their first presence on this node: a login costs no query for an
	// account seen before.
	hashes map[string]string
}

// Register announces the conversion on r and starts it.
func Register(r *router.Router, cfg Config) *Module {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Module{Config: cfg, hashes: map[string]string{}}
	r.AddAccountFeature(NS)
	r.AddFilter(m)
	cfg.PEP.OnPublish(m.published)
	cfg.VCards.OnChange(m.vcardChanged)
	return m
}

// Outbound puts the photo hash into an available presence from a client.
func (m *Module) Outbound(ctx context.Context, from, _ jid.JID, st *xmlstream.Element) (bool, *xmlstream.Element) {
	if st.Name.Local != stanza.Presence || st.Attr("type") != "" {
		return true, nil
	}
	x := st.Child(NSUpdate, "x")
	if x != nil && x.Child(NSUpdate, "photo") != nil {
		return true, nil
	}
	hash, err := m.hash(ctx, from.Bare())
	if err != nil {
		m.Logger.Error("loading the vCard photo hash", "jid", from.Bare().String(), "err", err)
		return true, nil
	}
	if hash == "" {
		return true, nil
	}
	if x != nil {
		*st = *st.Without(NSUpdate, "x")
	}
	st.AddChild(xmlstream.NewElement(NSUpdate, "x").AddChild(xmlstream.NewElement(NSUpdate, "photo").AddText(hash)))
	return true, nil
}

// Inbound lets everything through.
func (m *Module) Inbound(context.Context, jid.JID, jid.JID, *xmlstream.Element) bool { return true }

// hash returns the photo hash of account, from the cache or the store.
func (m *Module) hash(ctx context.Context, account jid.JID) (string, error) {
	key := account.String()
	m.mu.Lock()
	h, ok := m.hashes[key]
	m.mu.Unlock()
	if ok {
		return h, nil
	}
	store := m.VCards.Store
	h, known, err := store.PhotoHash(ctx, account.Domainpart(), account.Localpart())
	if err != nil {
		return "", err
	}
	if !known {
		card, err := m.card(ctx, account)
		if err != nil {
			return "", err
		}
		h = vcard.PhotoHash(card)
	}
	m.mu.Lock()
	if len(m.hashes) >= maxCached {
		for k := range m.hashes {
			delete(m.hashes, k)
			break
		}
	}
	m.hashes[key] = h
	m.mu.Unlock()
	return h, nil
}

// remember records account's new photo hash if the account is cached,
// and tells the cluster.
func (m *Module) remember(account jid.JID, hash string) {
	m.mu.Lock()
	if _, ok := m.hashes[account.String()]; ok {
		m.hashes[account.String()] = hash
	}
	m.mu.Unlock()
	if m.Changed != nil {
		m.Changed(account)
	}
}

// Forget drops the cached hash of account, which another node changed.
func (m *Module) Forget(account jid.JID) {
	m.mu.Lock()
	delete(m.hashes, account.String())
	m.mu.Unlock()
}

// card returns account's vCard, or an empty one.
func (m *Module) card(ctx context.Context, account jid.JID) (*xmlstream.Element, error) {
	data, err := m.VCards.Store.Get(ctx, account.Domainpart(), account.Localpart())
	if errors.Is(err, storage.ErrNotFound) {
		return xmlstream.NewElement(vcard.NS, "vCard"), nil
	}
	if err != nil {
		return nil, err
	}
	return xmlstream.ParseElement(data, xmlstream.Limits{MaxStanzaBytes: len(data), MaxDepth: maxStoredDepth})
}

// published makes a client's new XEP-0084 avatar the vCard's photo.
func (m *Module) published(ctx context.Context, owner jid.JID, node, _ string, payload *xmlstream.Element) {
	if node != NSMetadata || payload.Name.Space != NSMetadata || payload.Name.Local != "metadata" {
		return
	}
	var info *xmlstream.Element
	for _, i := range payload.ChildElements() {
		if i.Name.Space == NSMetadata && i.Name.Local == "info" && i.Attr("url") == "" && i.Attr("id") != "" {
			info = i
			break
		}
	}
	if err := m.setPhoto(ctx, owner, info); err != nil {
		m.Logger.Error("making the PEP avatar the vCard photo", "jid", owner.String(), "err", err)
	}
}

// setPhoto makes the image info names, or none when info is nil, the
// photo of owner's vCard.
func (m *Module) setPhoto(ctx context.Context, owner jid.JID, info *xmlstream.Element) error {
	var photo *xmlstream.Element
	if info != nil {
		data, err := m.PEP.Item(ctx, owner, NSData, info.Attr("id"))
		if err != nil || data == nil {
			return err
		}
		image, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data.Text()), ""))
		if err != nil || len(image) == 0 || sha1Hex(image) != info.Attr("id") {
			m.Logger.Warn("a PEP avatar whose data is not its id's image was not put into the vCard", "jid", owner.String(), "id", info.Attr("id"))
			return nil
		}
		photo = xmlstream.NewElement(vcard.NS, "PHOTO")
		if typ := info.Attr("type"); typ != "" {
			photo.AddChild(xmlstream.NewElement(vcard.NS, "TYPE").AddText(typ))
		}
		photo.AddChild(xmlstream.NewElement(vcard.NS, "BINVAL").AddText(base64.StdEncoding.EncodeToString(image)))
	}
	card, err := m.card(ctx, owner)
	if err != nil {
		return err
	}
	if photo == nil && vcard.PhotoHash(card) == "" {
		return nil
	}
	card = card.Without(vcard.NS, "PHOTO")
	if photo != nil {
		card.AddChild(photo)
	}
	hash := vcard.PhotoHash(card)
	data := card.Append(nil, "")
	if len(data) > m.VCards.MaxBytes {
		m.Logger.Warn("a PEP avatar too large for the vCard was not put into it", "jid", owner.String(), "bytes", len(data))
		return nil
	}
	if err := m.VCards.Store.Set(ctx, owner.Domainpart(), owner.Localpart(), data, hash); err != nil {
		return err
	}
	m.remember(owner, hash)
	return nil
}

// vcardChanged publishes a vCard's new photo as the XEP-0084 avatar.
func (m *Module) vcardChanged(ctx context.Context, account jid.JID, card *xmlstream.Element) {
	image, typ := vcard.Photo(card)
	hash := vcard.PhotoHash(card)
	m.remember(account, hash)
	if image == nil {
		return
	}
	if err := m.publishAvatar(ctx, account, image, typ, hash); err != nil {
		m.Logger.Error("making the vCard photo the PEP avatar", "jid", account.String(), "err", err)
	}
}

// publishAvatar publishes image as account's XEP-0084 avatar unless the
// metadata already names it.
func (m *Module) publishAvatar(ctx context.Context, account jid.JID, image []byte, typ, id string) error {
	_, items, _, err := m.PEP.Items(ctx, account, NSMetadata)
	if err != nil {
		return err
	}
	if n := len(items); n > 0 && items[n-1].Attr("id") == id {
		return nil
	}
	if typ == "" {
		typ = "image/png"
	}
	data := xmlstream.NewElement(NSData, "data").AddText(base64.StdEncoding.EncodeToString(image))
	if err := m.PEP.Publish(ctx, account, NSData, pep.Defaults(), id, data); err != nil {
		return err
	}
	info := xmlstream.NewElement(NSMetadata, "info", "id", id, "bytes", strconv.Itoa(len(image)), "type", typ)
	return m.PEP.Publish(ctx, account, NSMetadata, pep.Defaults(), id, xmlstream.NewElement(NSMetadata, "metadata").AddChild(info))
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}
