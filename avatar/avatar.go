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
//     item without <info/> (avatar removed) removes the PHOTO; one whose
//     images are all elsewhere (url) leaves it. A vCard that would then
//     exceed vcard.max_bytes keeps its old photo. The vCard is read and
//     written without a lock: a vCard set from another client at that
//     moment may be lost. An avatar whose data node only the owner may
//     read (access model whitelist) stays out of the vCard, which anyone
//     may read (XEP-0398 §6).
//   - A vCard set with a PHOTO publishes its image to the data node and
//     its id, size and type to the metadata node, unless the metadata
//     already names that image. A vCard without PHOTO leaves the PEP
//     avatar alone.
//   - A presence whose update element has a <photo/>, empty or not, is
//     the client's word and left as it is; an update element without one
//     gets the hash (an empty <photo/> when there is no photo); a
//     presence without one gets one when the account has a vCard, with
//     an empty <photo/> when it has no photo, so that contacts learn that
//     a photo was removed (XEP-0153 §3.1). An account without a vCard
//     has nothing to tell.
package avatar

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
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
	// changes counts the changes made to hashes by remember and Forget:
	// a hash loaded while one happened may be stale and is not kept.
	changes uint64
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
	cfg.PEP.OnRemove(m.removed)
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
	hash, hasCard, err := m.hash(ctx, from.Bare())
	if err != nil {
		m.Logger.Error("loading the vCard photo hash", "jid", from.Bare().String(), "err", err)
		return true, nil
	}
	photo := xmlstream.NewElement(NSUpdate, "photo").AddText(hash)
	switch {
	case x != nil:
		// An update element without a photo is filled, with an empty one
		// when there is no photo (XEP-0398 §4).
		x.AddChild(photo)
	case hasCard:
		st.AddChild(xmlstream.NewElement(NSUpdate, "x").AddChild(photo))
	}
	return true, nil
}

// noCard is the cached hash of an account without a vCard, which is not
// a hash.
const noCard = "-"

// Inbound lets everything through.
func (m *Module) Inbound(context.Context, jid.JID, jid.JID, *xmlstream.Element) bool { return true }

// hash returns the photo hash of account ("" for none), from the cache
// or the store; hasCard is false when the account has no vCard.
func (m *Module) hash(ctx context.Context, account jid.JID) (hash string, hasCard bool, err error) {
	key := account.String()
	m.mu.Lock()
	h, ok := m.hashes[key]
	changes := m.changes
	m.mu.Unlock()
	if !ok {
		if h, err = m.storedHash(ctx, account); err != nil {
			return "", false, err
		}
		m.mu.Lock()
		if m.changes == changes {
			m.storeLocked(key, h)
		}
		m.mu.Unlock()
	}
	if h == noCard {
		return "", false, nil
	}
	return h, true, nil
}

// storedHash returns the photo hash of account's stored vCard, or noCard.
func (m *Module) storedHash(ctx context.Context, account jid.JID) (string, error) {
	h, known, err := m.VCards.Store.PhotoHash(ctx, account.Domainpart(), account.Localpart())
	if err != nil || known {
		return h, err
	}
	data, err := m.VCards.Store.Get(ctx, account.Domainpart(), account.Localpart())
	if errors.Is(err, storage.ErrNotFound) {
		return noCard, nil
	}
	if err != nil {
		return "", err
	}
	card, err := xmlstream.ParseStored(data)
	if err != nil {
		return "", err
	}
	return vcard.PhotoHash(card), nil
}

// storeLocked caches hash for key, dropping another when the cache is
// full.
func (m *Module) storeLocked(key, hash string) {
	if _, ok := m.hashes[key]; !ok && len(m.hashes) >= maxCached {
		for k := range m.hashes {
			delete(m.hashes, k)
			break
		}
	}
	m.hashes[key] = hash
}

// remember takes note that account's photo hash is now hash and tells
// the cluster; it returns false, doing nothing, when the hash is the one
// cached. The cached hash is dropped rather than replaced: of two changes
// at once the later may tell first, and the next read takes the stored
// one.
func (m *Module) remember(account jid.JID, hash string) bool {
	key := account.String()
	m.mu.Lock()
	if old, ok := m.hashes[key]; ok && old == hash {
		m.mu.Unlock()
		return false
	}
	delete(m.hashes, key)
	m.changes++
	m.mu.Unlock()
	if m.Changed != nil {
		m.Changed(account)
	}
	return true
}

// Forget drops the cached hash of account, which another node changed or
// which was deleted.
func (m *Module) Forget(account jid.JID) {
	m.mu.Lock()
	delete(m.hashes, account.String())
	m.changes++
	m.mu.Unlock()
}

// ForgetAll drops every cached hash: another node of a cluster may have
// changed any of them unheard (its NATS connection was cut).
func (m *Module) ForgetAll() {
	m.mu.Lock()
	clear(m.hashes)
	m.changes++
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
	return xmlstream.ParseStored(data)
}

// published makes a client's new XEP-0084 avatar the vCard's photo.
func (m *Module) published(ctx context.Context, owner jid.JID, node, _ string, payload *xmlstream.Element) {
	if node != NSMetadata || payload.Name.Space != NSMetadata || payload.Name.Local != "metadata" {
		return
	}
	var info *xmlstream.Element
	infos := 0
	for _, i := range payload.ChildElements() {
		if i.Name.Space != NSMetadata || i.Name.Local != "info" {
			continue
		}
		infos++
		if info == nil && i.Attr("url") == "" && i.Attr("id") != "" {
			info = i
		}
	}
	if info == nil && infos > 0 {
		return // images elsewhere only: the vCard keeps its photo
	}
	if err := m.setPhoto(ctx, owner, info); err != nil {
		m.Logger.Error("making the PEP avatar the vCard photo", "jid", owner.String(), "err", err)
	}
}

// removed takes the photo out of the vCard when the avatar's metadata is
// gone: its item retracted, or its node purged or deleted (as
// Conversations removes an avatar).
func (m *Module) removed(ctx context.Context, owner jid.JID, node, _ string) {
	if node != NSMetadata {
		return
	}
	_, items, _, err := m.PEP.Items(ctx, owner, NSMetadata)
	if err == nil && len(items) == 0 {
		err = m.setPhoto(ctx, owner, nil)
	}
	if err != nil {
		m.Logger.Error("taking a removed PEP avatar out of the vCard", "jid", owner.String(), "err", err)
	}
}

// setPhoto makes the image info names, or none when info is nil, the
// photo of owner's vCard.
func (m *Module) setPhoto(ctx context.Context, owner jid.JID, info *xmlstream.Element) error {
	var photo *xmlstream.Element
	hash := ""
	if info != nil {
		if private, err := m.private(ctx, owner); err != nil || private {
			return err
		}
		data, err := m.PEP.Item(ctx, owner, NSData, info.Attr("id"))
		if err != nil || data == nil {
			return err
		}
		image, err := vcard.DecodeImage(data.Text())
		hash = vcard.Hash(image)
		// XEP-0153 §3.1: the hex may be in either case.
		if err != nil || len(image) == 0 || !strings.EqualFold(hash, info.Attr("id")) {
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

// private reports whether owner's avatar data node is one only owner may
// read (access model whitelist): its image must not go into the vCard,
// which anyone may read (XEP-0398 §6).
func (m *Module) private(ctx context.Context, owner jid.JID) (bool, error) {
	cfg, exists, err := m.PEP.Node(ctx, owner, NSData)
	if err != nil || !exists || cfg.Access != pep.Whitelist {
		return false, err
	}
	m.Logger.Debug("a PEP avatar only its owner may see was not put into the vCard", "jid", owner.String())
	return true, nil
}

// vcardChanged publishes a vCard's new photo as the XEP-0084 avatar.
func (m *Module) vcardChanged(ctx context.Context, account jid.JID, card *xmlstream.Element) {
	image, typ := vcard.Photo(card)
	hash := vcard.Hash(image)
	m.remember(account, hash)
	if image == nil {
		return
	}
	// Even an unchanged photo may be missing from PEP (a vCard imported,
	// or set before this conversion): publishAvatar looks.
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
	if n := len(items); n > 0 && strings.EqualFold(items[n-1].Attr("id"), id) {
		return nil
	}
	if typ == "" {
		typ = http.DetectContentType(image)
	}
	data := xmlstream.NewElement(NSData, "data").AddText(base64.StdEncoding.EncodeToString(image))
	if err := m.PEP.Publish(ctx, account, NSData, pep.Defaults(), id, data); err != nil {
		return err
	}
	info := xmlstream.NewElement(NSMetadata, "info", "id", id, "bytes", strconv.Itoa(len(image)), "type", typ)
	return m.PEP.Publish(ctx, account, NSMetadata, pep.Defaults(), id, xmlstream.NewElement(NSMetadata, "metadata").AddChild(info))
}
