package avatar

import (
	"context"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/vcard"
)

// hashStore is a vCard store holding one stored photo hash.
type hashStore struct{ hash string }

func (s *hashStore) Get(context.Context, string, string) ([]byte, error) { return nil, nil }

func (s *hashStore) Set(context.Context, string, string, []byte, string) error { return nil }

func (s *hashStore) PhotoHash(context.Context, string, string) (string, bool, error) {
	return s.hash, true, nil
}

// TestChangesToldOutOfOrder: two photo changes stored one after the
// other may tell the module in the other order; the hash in presence is
// the stored one all the same.
func TestChangesToldOutOfOrder(t *testing.T) {
	store := &hashStore{hash: "b"}
	m := &Module{Config: Config{VCards: &vcard.Module{Config: vcard.Config{Store: store}}}, hashes: map[string]string{}}
	juliet := jid.MustParse("juliet@localhost")
	m.remember(juliet, "b")
	m.remember(juliet, "a") // told last, stored first
	if h, _, err := m.hash(context.Background(), juliet); err != nil || h != "b" {
		t.Fatalf("hash %q (%v), want the stored b", h, err)
	}
}
