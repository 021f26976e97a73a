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
	"errors"
	"log/slog"
	"strconv"
	"time"

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

// maxStoredDepth bounds the nesting accepted when reading a stored vCard
// back. It only has to exceed any stanza depth limit: the data was
// written by this package from a stanza that passed the stream's limits.
const maxStoredDepth = 1024

// Store keeps one vCard per account as serialised XML.
type Store interface {
	// Get returns the vCard of username@domain; an error wrapping
	// storage.ErrNotFound when none is stored.
	Get(ctx context.Context, domain, username string) ([]byte, error)
	// Set stores vcard as the vCard of username@domain, replacing any; an
	// unknown account is an error wrapping storage.ErrNotFound.
	Set(ctx context.Context, domain, username string, vcard []byte) error
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

type module struct {
	Config
}

// Register answers vCard gets and sets for accounts on r and announces
// the vcard-temp feature.
func Register(r *router.Router, cfg Config) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &module{cfg}
	r.AddFeature(NS)
	r.AddAccountFeature(NS)
	r.HandleIQ(router.ToAccount, "get", NS, "vCard", m.get)
	r.HandleIQ(router.ToAccount, "set", NS, "vCard", m.set)
}

func (m *module) get(ctx context.Context, iq router.IQ) *xmlstream.Element {
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
	card, err := xmlstream.ParseElement(data, xmlstream.Limits{MaxStanzaBytes: len(data), MaxDepth: maxStoredDepth})
	if err != nil {
		m.Logger.Error("parsing stored vCard", "jid", iq.To.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	return iq.Result(card)
}

func (m *module) set(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.To.Equal(iq.From.Bare()) {
		return iq.Error(stanza.Forbidden, "only the owner of an account may set its vCard")
	}
	data := iq.Payload.Append(nil, "")
	if len(data) > m.MaxBytes {
		return iq.Error(stanza.NotAcceptable, "the vCard is larger than "+strconv.Itoa(m.MaxBytes)+" bytes")
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := m.Store.Set(ctx, iq.To.Domainpart(), iq.To.Localpart(), data); err != nil {
		m.Logger.Error("storing vCard", "jid", iq.To.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	return iq.Result(nil)
}
