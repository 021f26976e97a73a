// Package vcard implements XEP-0054: vcard-temp, the profile (vCard) of
// each account: the owner sets it, anyone on the server reads it.
//
// Answers, following XEP-0054 and RFC 6120 §8.3.3:
//
//   - A set without 'to', or to the sender's own bare JID, replaces the
//     sender's vCard; a set to another account is forbidden.
//   - A vCard whose serialisation is larger than Config.MaxBytes is refused
//     with not-acceptable (the request is understood but does not meet the
//     server's criteria; XEP-0363 answers an oversized upload the same
//     way), and the stored vCard is left as it was.
//   - A get of one's own vCard when none is stored is an empty <vCard/>
//     result, which §3.1 allows and clients expect for their own profile.
//     A get of another account's missing vCard is item-not-found: §3.3
//     requires an error there. A get to an unknown account is answered
//     service-unavailable by the router before it reaches this package.
package vcard

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0054, also announced as a disco feature.
const NS = "vcard-temp"

// storeTimeout bounds one database call, so that a slow database fails
// the one IQ instead of holding the session that sent it.
const storeTimeout = 10 * time.Second

// Store keeps one vCard per account as serialised XML.
type Store interface {
	// Get returns the vCard of username@domain; an error wrapping
	// storage.ErrNotFound when none is stored.
	Get(ctx context.Context, domain, username string) ([]byte, error)
	// Set stores vcard as the vCard of username@domain, with the hash of
	// its photo (PhotoHash), replacing any; an unknown account is an
	// error wrapping storage.ErrNotFound.
	Set(ctx context.Context, domain, username string, vcard []byte, photoHash string) error
	// PhotoHash returns the photo hash stored with the vCard of
	// username@domain; known is false when there is no vCard or it was
	// stored without a hash.
	PhotoHash(ctx context.Context, domain, username string) (hash string, known bool, err error)
}

// Config is what the module needs.
type Config struct {
	// Store keeps the vCards.
	Store Store
	// MaxBytes is the largest serialised vCard accepted.
	MaxBytes int
	// Logger receives storage failures; nil discards them.
	Logger *slog.Logger
}

// Module serves the vCards.
type Module struct {
	Config
	changed []func(ctx context.Context, account jid.JID, card *xmlstream.Element)
}

// OnChange has f called after an account set its vCard, with the new one.
func (m *Module) OnChange(f func(ctx context.Context, account jid.JID, card *xmlstream.Element)) {
	m.changed = append(m.changed, f)
}

// Register answers vCard gets and sets for accounts on r and announces
// the vcard-temp feature.
func Register(r *router.Router, cfg Config) *Module {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Module{Config: cfg}
	r.AddFeature(NS)
	r.AddAccountFeature(NS)
	r.HandleIQ(router.ToAccount, "get", NS, "vCard", m.get)
	r.HandleIQ(router.ToAccount, "set", NS, "vCard", m.set)
	return m
}

func (m *Module) get(ctx context.Context, iq router.IQ) *xmlstream.Element {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	data, err := m.Store.Get(ctx, iq.To.Domainpart(), iq.To.Localpart())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if iq.To.Equal(iq.From.Bare()) {
			return iq.Result(xmlstream.NewElement(NS, "vCard"))
		}
		return iq.Error(stanza.ItemNotFound, "")
	case err != nil:
		m.Logger.Error("loading vCard", "jid", iq.To.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	card, err := xmlstream.ParseStored(data)
	if err != nil {
		m.Logger.Error("parsing stored vCard", "jid", iq.To.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	return iq.Result(card)
}

func (m *Module) set(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.To.Equal(iq.From.Bare()) {
		return iq.Error(stanza.Forbidden, "only the owner of an account may set its vCard")
	}
	data := iq.Payload.Append(nil, "")
	if len(data) > m.MaxBytes {
		return iq.Error(stanza.NotAcceptable, "the vCard is larger than "+strconv.Itoa(m.MaxBytes)+" bytes")
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := m.Store.Set(ctx, iq.To.Domainpart(), iq.To.Localpart(), data, PhotoHash(iq.Payload)); err != nil {
		m.Logger.Error("storing vCard", "jid", iq.To.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	for _, f := range m.changed {
		f(ctx, iq.To, iq.Payload)
	}
	return iq.Result(nil)
}

// PhotoHash returns the XEP-0153 hash of card's photo: the hex SHA-1 of
// the image in its PHOTO's BINVAL, or "" when it has none.
func PhotoHash(card *xmlstream.Element) string {
	image, _ := Photo(card)
	return Hash(image)
}

// Hash returns the XEP-0153 hash of image, the hex SHA-1, or "" for no
// image.
func Hash(image []byte) string {
	if image == nil {
		return ""
	}
	sum := sha1.Sum(image)
	return hex.EncodeToString(sum[:])
}

// Photo returns the image of card's PHOTO and its TYPE; image is nil
// when there is none, or it is not valid base64.
func Photo(card *xmlstream.Element) (image []byte, typ string) {
	photo := card.Child(NS, "PHOTO")
	if photo == nil {
		return nil, ""
	}
	binval := photo.Child(NS, "BINVAL")
	if binval == nil {
		return nil, ""
	}
	image, err := DecodeImage(binval.Text())
	if err != nil || len(image) == 0 {
		return nil, ""
	}
	if t := photo.Child(NS, "TYPE"); t != nil {
		typ = strings.TrimSpace(t.Text())
	}
	return image, typ
}

// DecodeImage decodes the base64 of a BINVAL, or of XEP-0084's avatar
// data, which may be wrapped in lines.
func DecodeImage(text string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
}
