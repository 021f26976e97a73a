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
