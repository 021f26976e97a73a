package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"xmppd/mam"
	"xmppd/storage/postgres"
)

// TestSearchWalkAgrees pages through searches answered by walking the
// archive first and by the planner alone: both must find the same
// messages. "often" fills a page within the walk, "seldom" does not, so
// both paths of the walking store are taken.
func TestSearchWalkAgrees(t *testing.T) {
	t.Parallel()
	pool, planned := archiveFor(t, "juliet")
	walking := postgres.NewArchiveWalking(pool)
	var entries []mam.Entry
	for i := range 3000 {
		body := fmt.Sprintf("m%d", i)
		if i%2 == 0 {
			body += " often"
		}
		if i%300 == 0 {
			body += " seldom"
		}
		with := "romeo"
		if i%3 == 0 {
			with = "nurse"
		}
		entries = append(entries, archiveEntry("juliet", with, body, i%2 == 0))
	}
	ids, err := planned.Append(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	middle := ids[len(ids)/2]
	if all := pageAll(t, walking, mam.Query{Text: "often", Max: 250}); len(all) != 1500 {
		t.Fatalf("found %d messages with often, want 1500", len(all))
	}
	for _, text := range []string{"often", "seldom", "often seldom", "often -seldom", `"m10 often"`} {
		for _, q := range []mam.Query{
			{Text: text, Max: 50},
			{Text: text, Max: 50, Last: true},
			{Text: text, Max: 50, Last: true, BeforeID: middle},
			{Text: text, Max: 50, AfterID: middle},
			{Text: text, Max: 20, Last: true, With: "romeo@example.org"},
		} {
			want, got := pageAll(t, planned, q), pageAll(t, walking, q)
			if !slices.Equal(got, want) {
				t.Errorf("%+v: walking found %d messages, the planner %d", q, len(got), len(want))
			}
		}
	}
}

// TestSearchRepeatedWord: a body that repeats a word more often than
// PostgreSQL keeps positions for (256) is archived, with the messages of
// its batch, and found by that word.
func TestSearchRepeatedWord(t *testing.T) {
	t.Parallel()
	_, a := archiveFor(t, "juliet")
	entries := []mam.Entry{archiveEntry("juliet", "romeo", strings.Repeat("ha ", 300), false), archiveEntry("juliet", "romeo", "after", false)}
	if _, err := a.Append(context.Background(), entries); err != nil {
		t.Fatalf("archiving a word 300 times: %v", err)
	}
	for _, word := range []string{"ha", "after"} {
		if got := pageAll(t, a, mam.Query{Text: word, Max: 10}); len(got) != 1 {
			t.Errorf("searching %q found %d messages, want 1", word, len(got))
		}
	}
}

// TestSearchUnicodeSpaces: words of a search are separated by any white
// space, as people type it: a Chinese or Japanese input method types the
// ideographic space U+3000, phones and pasted text a no-break space. Two
// words so separated must each occur anywhere in the message, not as a
// phrase, and a '-' after such a space excludes the next word.
func TestSearchUnicodeSpaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a := archiveFor(t, "juliet", "romeo")
	bodies := []string{"东京今天下雨，大阪晴天", "东京大阪", "meet at the café tomorrow"}
	var entries []mam.Entry
	for _, b := range bodies {
		entries = append(entries, archiveEntry("juliet", "romeo", b, false))
	}
	ids, err := a.Append(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		search string
		want   []int64
	}{
		{"东京 大阪", ids[:2]},
		{"东京\u3000大阪", ids[:2]},
		{"东京\u3000-下雨", ids[1:2]},
		{"tomorrow\u00a0meet", ids[2:3]},
		{"café\u2003-tomorrow", nil},
	} {
		p, err := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10, Text: tc.search})
		if err != nil {
			t.Fatal(err)
		}
		if got := idsOf(p); !slices.Equal(got, tc.want) {
			t.Errorf("search %q: %v, want %v", tc.search, got, tc.want)
		}
	}
}

// normalizedBodies and normalizedSearches: a word is found however it is
// written, in the message or in the search: composed or decomposed (é,
// e + U+0301), full-width, as a ligature (ﬁ), and in any case with full
// case folding (ß and SS, final sigma ς and σ).
var normalizedBodies = []string{
	"Rendez-vous au caf\u00e9 demain",
	"Un cafe\u0301 noir",
	"ＸＭＰＰ ｓｅｒｖｅｒ ready",
	"the ﬁle is ready",
	"Die Straße ist nass",
	"DIE STRASSE IST BREIT",
	"ένας λόγος",
	"ΈΝΑΣ ΆΛΛΟΣ ΛΌΓΟΣ",
}

var normalizedSearches = []struct {
	search string
	want   []int // indexes in normalizedBodies
}{
	{"caf\u00e9", []int{0, 1}},
	{"cafe\u0301", []int{0, 1}},
	{"CAF\u00c9", []int{0, 1}},
	{"xmpp server", []int{2}},
	{`"ＸＭＰＰ Server"`, []int{2}},
	{"file", []int{3}},
	{"ﬁle", []int{3}},
	{"FILE ready", []int{3}},
	{"straße", []int{4, 5}},
	{"STRASSE", []int{4, 5}},
	{"strasse -nass", []int{5}},
	{`"die straße ist"`, []int{4, 5}},
	{"λόγος", []int{6, 7}},
	{"ΛΌΓΟΣ", []int{6, 7}},
	{"λόγοσ ένας", []int{6, 7}},
}

// unnormalizedRows are bodies with the terms xmppd stored for them
// before it normalised text (%[1]s is the archive's tag), the searches
// that found them then and must still find them, and ones that must not.
var unnormalizedRows = []struct {
	body, terms     string
	found, excluded []string
}{
	{"Die Straße", "'%[1]sdie':1 '%[1]sstraße':2", []string{"Straße", "STRAßE", `"die straße"`}, []string{"die -Straße"}},
	{"Un cafe\u0301", "'%[1]sun':1 '%[1]scafe\u0301':2", []string{"cafe\u0301", "CAFE\u0301"}, []string{"un -cafe\u0301"}},
	{"ένας λόγος", "'%[1]sένας':1 '%[1]sλόγος':2", []string{"λόγος", `"ένας λόγος"`}, []string{"λόγος -ένας"}},
	{"ＸＭＰＰ", "'%[1]sｘｍｐｐ':1", []string{"ＸＭＰＰ", "ｘｍｐｐ"}, nil},
	{"the ﬁle", "'%[1]sthe':1 '%[1]sﬁle':2", []string{"ﬁle", `"the ﬁle"`}, []string{"the -ﬁle"}},
}

// TestSearchNormalized runs normalizedSearches on a personal archive.
func TestSearchNormalized(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, a := archiveFor(t, "juliet", "romeo")
	var entries []mam.Entry
	for _, b := range normalizedBodies {
		entries = append(entries, archiveEntry("juliet", "romeo", b, false))
	}
	ids, err := a.Append(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range normalizedSearches {
		var want []int64
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		p, err := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10, Text: tc.search})
		if err != nil {
			t.Fatal(err)
		}
		if got := idsOf(p); !slices.Equal(got, want) {
			t.Errorf("search %q: %v, want %v", tc.search, got, want)
		}
	}
}

// TestSearchUnnormalizedRows: messages archived before words were
// normalised keep the terms stored then and are still found by the
// searches that found them.
func TestSearchUnnormalizedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, a := archiveFor(t, "juliet", "romeo")
	tag := postgres.OwnerTag("example.org", "juliet")
	for _, row := range unnormalizedRows {
		ids, err := a.Append(ctx, []mam.Entry{archiveEntry("juliet", "romeo", row.body, false)})
		if err != nil {
			t.Fatal(err)
		}
		terms := fmt.Sprintf(row.terms, tag)
		if _, err := pool.Exec(ctx, "UPDATE archive_messages SET terms = $1::tsvector WHERE id = $2", terms, ids[0]); err != nil {
			t.Fatal(err)
		}
		for _, s := range append(row.found, row.excluded...) {
			want := ids
			if slices.Contains(row.excluded, s) {
				want = nil
			}
			p, err := a.Query(ctx, "example.org", "juliet", mam.Query{Max: 10, AfterID: ids[0] - 1, Text: s})
			if err != nil {
				t.Fatal(err)
			}
			if got := idsOf(p); !slices.Equal(got, want) {
				t.Errorf("search %q in %q stored as %s: %v, want %v", s, row.body, terms, got, want)
			}
		}
	}
}
