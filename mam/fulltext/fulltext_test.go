package fulltext

import (
	"reflect"
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []Term
	}{
		{"Hello, World!", []Term{{"hello", 1}, {"world", 2}}},
		{"don't  stop", []Term{{"don", 1}, {"t", 2}, {"stop", 3}}},
		{"Привет мир", []Term{{"привет", 1}, {"мир", 2}}},
		{"see 明天见 ok", []Term{{"see", 1}, {"明", 2}, {"明天", 2}, {"天", 3}, {"天见", 3}, {"见", 4}, {"ok", 5}}},
		{"abc明", []Term{{"abc", 1}, {"明", 2}}},
		{"café naïve", []Term{{"café", 1}, {"naïve", 2}}},
		{"", nil},
		{"!!! ---", nil},
	} {
		if got := Terms(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Terms(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestTermsBounds(t *testing.T) {
	long := strings.Repeat("é", 300)
	terms := Terms(long)
	if len(terms) != 1 || len(terms[0].Word) > maxWordBytes || !strings.HasPrefix(long, terms[0].Word) {
		t.Fatalf("a long word became %v", terms)
	}
	many := Terms(strings.Repeat("a ", MaxPosition+10))
	if len(many) != MaxPosition || many[len(many)-1].Pos != MaxPosition {
		t.Fatalf("%d terms, last at %d", len(many), many[len(many)-1].Pos)
	}
}

// parts returns the parts of a search of these phrases, each the same
// normalised and not.
func parts(phrases ...[]Term) []Part {
	var ps []Part
	for _, p := range phrases {
		ps = append(ps, Part{Terms: p})
	}
	return ps
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Search
	}{
		{"hello world", Search{Include: parts([]Term{{"hello", 1}}, []Term{{"world", 1}})}},
		{`"See you  Tomorrow" -later`, Search{Include: parts([]Term{{"see", 1}, {"you", 2}, {"tomorrow", 3}}), Exclude: parts([]Term{{"later", 1}})}},
		{"明天见", Search{Include: parts([]Term{{"明天", 1}, {"天见", 2}})}},
		{`"明天 ok 明"`, Search{Include: parts([]Term{{"明天", 1}, {"ok", 3}, {"明", 4}})}},
		{"明", Search{Include: parts([]Term{{"明", 1}})}},
		{"e-mail", Search{Include: parts([]Term{{"e", 1}, {"mail", 2}})}},
		{`"unterminated phrase`, Search{Include: parts([]Term{{"unterminated", 1}, {"phrase", 2}})}},
		{"-only", Search{Exclude: parts([]Term{{"only", 1}})}},
		{"明天\u3000-见", Search{Include: parts([]Term{{"明天", 1}}), Exclude: parts([]Term{{"见", 1}})}},
		{"\u00a0hello\u00a0world\u2003", Search{Include: parts([]Term{{"hello", 1}}, []Term{{"world", 1}})}},
		{"  !!! ", Search{}},
		// Normalised words, and as they were indexed before.
		{"café", Search{Include: parts([]Term{{"café", 1}})}},
		{"cafe\u0301", Search{Include: []Part{{Terms: []Term{{"café", 1}}, Unnormalized: []Term{{"cafe\u0301", 1}}}}}},
		{"-Straße", Search{Exclude: []Part{{Terms: []Term{{"strasse", 1}}, Unnormalized: []Term{{"straße", 1}}}}}},
		{`"ﬁne ＸＭＰＰ"`, Search{Include: []Part{{Terms: []Term{{"fine", 1}, {"xmpp", 2}}, Unnormalized: []Term{{"ﬁne", 1}, {"ｘｍｐｐ", 2}}}}}},
		{"①", Search{Include: []Part{{Terms: []Term{{"1", 1}}}}}},
	} {
		if got := Parse(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	if !Parse("-x").Empty() || !Parse("").Empty() || Parse("x").Empty() {
		t.Error("Empty is wrong")
	}
}

// TestNormalize: a word is indexed and searched in one form whichever
// way it is written: composed or decomposed (é, e + U+0301), in
// compatibility forms (full-width letters, ligatures, circled digits)
// and in any case, with full case folding (ß and SS, final sigma ς
// and σ, the Kelvin sign).
func TestNormalize(t *testing.T) {
	for _, words := range [][]string{
		{"caf\u00e9", "cafe\u0301", "CAFE\u0301", "CAF\u00c9"},
		{"ＸＭＰＰ", "xmpp", "XMPP", "ｘｍｐｐ"},
		{"ﬁle", "file", "FILE", "ﬁLE"},
		{"straße", "STRASSE", "strasse", "STRAẞE"},
		{"λόγος", "ΛΌΓΟΣ", "λόγοσ", "λο\u0301γος"},
		{"\u212a", "k", "K"},
		{"ｶﾀｶﾅ", "カタカナ"},
		{"①", "1"},
	} {
		want := Terms(words[0])
		for _, w := range words[1:] {
			if got := Terms(w); !reflect.DeepEqual(got, want) {
				t.Errorf("Terms(%q) = %v, want %v as for %q", w, got, want, words[0])
			}
			if got := Parse(w).Include; len(got) != 1 || !reflect.DeepEqual(got[0].Terms, Phrase(words[0])) {
				t.Errorf("Parse(%q) = %v, want the phrase %v", w, got, Phrase(words[0]))
			}
		}
	}
}

// A search for any words of a message, as a phrase, finds them in its
// terms at neighbouring positions.
func FuzzPhraseMatchesTerms(f *testing.F) {
	f.Add("see you tomorrow, 明天见!", 1, 3)
	f.Fuzz(func(t *testing.T, text string, from, n int) {
		terms := Terms(text)
		if len(terms) == 0 || from < 0 || n <= 0 {
			return
		}
		phrase := Phrase(text)
		from %= len(phrase)
		sub := phrase[from:min(len(phrase), from+n)]
		if !containsPhrase(terms, sub) {
			t.Fatalf("phrase %v not in terms %v", sub, terms)
		}
	})
}

func containsPhrase(terms []Term, phrase []Term) bool {
	at := map[Term]bool{}
	for _, t := range terms {
		at[t] = true
	}
	for _, first := range terms {
		if first.Word != phrase[0].Word {
			continue
		}
		ok := true
		for _, p := range phrase[1:] {
			ok = ok && at[Term{p.Word, first.Pos + p.Pos - phrase[0].Pos}]
		}
		if ok {
			return true
		}
	}
	return false
}
