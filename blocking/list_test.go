package blocking

import (
	"testing"

	"mellium.im/xmpp/jid"
)

// XEP-0191 §6 / XEP-0016 §2.1 matching, one blocked item at a time.
func TestMatches(t *testing.T) {
	tests := []struct {
		item string
		yes  []string
		no   []string
	}{
		{"romeo@montague.lit/orchard",
			[]string{"romeo@montague.lit/orchard"},
			[]string{"romeo@montague.lit", "romeo@montague.lit/balcony", "montague.lit", "montague.lit/orchard", "tybalt@montague.lit/orchard"}},
		{"romeo@montague.lit",
			[]string{"romeo@montague.lit", "romeo@montague.lit/orchard", "romeo@montague.lit/x"},
			[]string{"montague.lit", "benvolio@montague.lit", "romeo@capulet.lit", "romeo@sub.montague.lit"}},
		// XEP-0016 matches the sender's JID reduced to domain/resource
		// too, so this also blocks any user's resource of that name.
		{"montague.lit/orchard",
			[]string{"montague.lit/orchard", "romeo@montague.lit/orchard"},
			[]string{"montague.lit", "montague.lit/balcony", "romeo@montague.lit", "romeo@montague.lit/balcony"}},
		{"montague.lit",
			[]string{"montague.lit", "montague.lit/orchard", "romeo@montague.lit", "romeo@montague.lit/orchard"},
			[]string{"xmontague.lit", "lit", "romeo@capulet.lit", "montague.lit.example", "chat.montague.lit", "romeo@a.b.montague.lit/x"}},
	}
	for _, tt := range tests {
		l := newBlocklist([]jid.JID{jid.MustParse(tt.item)})
		for _, s := range tt.yes {
			if !l.matches(split(jid.MustParse(s))) {
				t.Errorf("blocking %s does not block %s", tt.item, s)
			}
		}
		for _, s := range tt.no {
			if l.matches(split(jid.MustParse(s))) {
				t.Errorf("blocking %s blocks %s", tt.item, s)
			}
		}
	}
	if emptyList.matches(split(jid.MustParse("romeo@montague.lit"))) {
		t.Error("the empty list blocks someone")
	}
}

func TestBlocklistWithWithout(t *testing.T) {
	j := func(ss ...string) []jid.JID {
		var out []jid.JID
		for _, s := range ss {
			out = append(out, jid.MustParse(s))
		}
		return out
	}
	str := func(l *blocklist) []string {
		var out []string
		for _, x := range l.items {
			out = append(out, x.String())
		}
		return out
	}
	a := newBlocklist(j("b@x", "a@x", "b@x"))
	if got := str(a); len(got) != 2 || got[0] != "a@x" || got[1] != "b@x" {
		t.Fatalf("newBlocklist: %v", got)
	}
	b := a.with(j("c@x"))
	if got := str(b); len(got) != 3 || got[2] != "c@x" || !b.has(jid.MustParse("c@x")) {
		t.Fatalf("with: %v", got)
	}
	if a.len() != 2 || a.has(jid.MustParse("c@x")) {
		t.Fatalf("with changed the original: %v", str(a))
	}
	c := b.without(j("a@x", "zz@x"))
	if got := str(c); len(got) != 2 || got[0] != "b@x" || c.has(jid.MustParse("a@x")) {
		t.Fatalf("without: %v", got)
	}
	if b.len() != 3 {
		t.Fatalf("without changed the original: %v", str(b))
	}
}
