package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"xmppd/muc"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func TestMUC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := postgres.NewMUC(pgtest.Pool(t))
	const svc = "conference.example.org"

	keep := muc.StoredRoom{Name: "keep", Config: muc.RoomConfig{Persistent: true, Name: "Keep", WhoIs: "anyone", MaxUsers: 5},
		Subject: "hello", SubjectBy: "jul", SubjectByID: "jul-id", Affiliations: map[string]string{"juliet@example.org": "owner", "tybalt@example.org": "outcast"}}
	temp := muc.StoredRoom{Name: "temp", Config: muc.RoomConfig{Public: true}}
	for _, r := range []muc.StoredRoom{keep, temp} {
		if err := m.SaveRoom(ctx, svc, r); err != nil {
			t.Fatal(err)
		}
	}
	// Saving again replaces the affiliations.
	keep.Affiliations["romeo@example.org"] = "member"
	delete(keep.Affiliations, "tybalt@example.org")
	if err := m.SaveRoom(ctx, svc, keep); err != nil {
		t.Fatal(err)
	}
	rooms, err := m.Rooms(ctx, svc)
	if err != nil || len(rooms) != 2 {
		t.Fatalf("Rooms = %+v, %v", rooms, err)
	}
	if got := rooms[0]; got.Name != "keep" || got.Config != keep.Config || got.Subject != "hello" || got.SubjectBy != "jul" || got.SubjectByID != "jul-id" ||
		fmt.Sprint(got.Affiliations) != fmt.Sprint(keep.Affiliations) {
		t.Fatalf("stored room %+v, want %+v", got, keep)
	}
	if got := rooms[1]; got.SubjectByID != "" {
		t.Fatalf("room saved without the subject's occupant id has %q", got.SubjectByID)
	}
	if other, err := m.Rooms(ctx, "conference.other.org"); err != nil || len(other) != 0 {
		t.Fatalf("another service's rooms: %+v, %v", other, err)
	}

	// The archive: ids grow, pages go both ways.
	var ids []int64
	for i := range 5 {
		for _, room := range []string{"keep", "temp"} {
			id, err := m.Append(ctx, svc, room, muc.Message{Nick: "jul", Sender: "juliet@example.org", Body: fmt.Sprint(i),
				Stanza: []byte("<message xmlns='jabber:client'/>")})
			if err != nil {
				t.Fatal(err)
			}
			if room == "keep" {
				ids = append(ids, id)
			}
		}
	}
	page := func(q muc.Query) string {
		t.Helper()
		p, err := m.Query(ctx, svc, "keep", q)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, msg := range p.Messages {
			s += msg.Body
		}
		return fmt.Sprintf("%s %t", s, p.Complete)
	}
	for q, want := range map[*muc.Query]string{
		{Max: 2}:                                "01 false",
		{Max: 2, Last: true}:                    "34 false",
		{Max: 10}:                               "01234 true",
		{Max: 2, AfterID: ids[2]}:               "34 true",
		{Max: 2, Last: true, BeforeID: ids[2]}:  "01 true",
		{Max: 10, IDs: []int64{ids[1], ids[3]}}: "13 true",
	} {
		if got := page(*q); got != want {
			t.Errorf("Query(%+v) = %s, want %s", *q, got, want)
		}
	}
	if _, err := m.Query(ctx, svc, "temp", muc.Query{Max: 1, AfterID: ids[0]}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("another room's id: %v, want ErrNotFound", err)
	}
	if _, err := m.Append(ctx, svc, "nosuch", muc.Message{Stanza: []byte("<x/>")}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Append to no room: %v, want ErrNotFound", err)
	}

	// Retraction: the message keeps its id and sender, loses its body and
	// stanza, and the retraction is archived after everything else.
	tomb, ann := []byte("<message xmlns='jabber:client'><retracted/></message>"), []byte("<message xmlns='jabber:client'><retract/></message>")
	if p := page(muc.Query{Max: 10, Text: "1"}); p != "1 true" {
		t.Fatalf("search for the message to retract: %s", p)
	}
	next, err := m.NextIDs(ctx, 1)
	if err != nil || next[0] <= ids[4] {
		t.Fatalf("NextIDs = %v, %v; want an id after %d", next, err, ids[4])
	}
	rid := next[0]
	if err := m.Retract(ctx, svc, "keep", ids[1], tomb, muc.Message{ID: rid, Stamp: time.Now(), Nick: "jul", Sender: "juliet@example.org", Stanza: ann}); err != nil {
		t.Fatalf("Retract: %v", err)
	}
	if p := page(muc.Query{Max: 10, Text: "1"}); p != " true" {
		t.Fatalf("search finds the retracted message: %q", p)
	}
	p, err := m.Query(ctx, svc, "keep", muc.Query{Max: 10, IDs: []int64{ids[1], rid}})
	if err != nil || len(p.Messages) != 2 {
		t.Fatalf("Query after Retract = %+v, %v", p, err)
	}
	if got := p.Messages[0]; got.ID != ids[1] || got.Body != "" || string(got.Stanza) != string(tomb) || got.Sender != "juliet@example.org" {
		t.Fatalf("tombstone %+v", got)
	}
	if got := p.Messages[1]; got.ID != rid || string(got.Stanza) != string(ann) {
		t.Fatalf("retraction %+v", got)
	}
	if page(muc.Query{Max: 10}) != "0234 true" {
		t.Fatalf("archive after Retract: %s", page(muc.Query{Max: 10}))
	}
	for _, room := range []string{"temp", "nosuch"} {
		if err := m.Retract(ctx, svc, room, ids[2], tomb, muc.Message{ID: rid + 1, Stamp: time.Now(), Stanza: ann}); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Retract in room %s of another room's message: %v, want ErrNotFound", room, err)
		}
	}
	if p := page(muc.Query{Max: 10}); p != "0234 true" {
		t.Fatalf("a failed Retract changed the archive: %s", p)
	}
	if s1, err := m.Secret(ctx); err != nil || len(s1) < 32 {
		t.Fatalf("Secret = %x, %v", s1, err)
	} else if s2, _ := m.Secret(ctx); string(s1) != string(s2) {
		t.Fatal("Secret changes between calls")
	}

	// Temporary rooms go, with their archive; persistent ones stay.
	if n, err := m.DeleteTemporary(ctx, svc); err != nil || n != 1 {
		t.Fatalf("DeleteTemporary = %d, %v", n, err)
	}
	if err := m.DeleteRoom(ctx, svc, "temp"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteRoom of a deleted room: %v", err)
	}
	if err := m.DeleteRoom(ctx, svc, "keep"); err != nil {
		t.Fatal(err)
	}
	if p, err := m.Query(ctx, svc, "keep", muc.Query{Max: 10}); err != nil || len(p.Messages) != 0 {
		t.Fatalf("archive of a deleted room: %+v, %v", p, err)
	}
}

// Write stores a batch across rooms with the ids drawn before, leaving
// out rooms that are gone; queries filter by nick, sender and words,
// each room searching only its own words.
func TestMUCWriteAndSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := postgres.NewMUC(pgtest.Pool(t))
	const svc = "conference.example.org"
	for _, name := range []string{"a", "b"} {
		if err := m.SaveRoom(ctx, svc, muc.StoredRoom{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := m.NextIDs(ctx, 7)
	if err != nil || len(ids) != 7 || !slices.IsSorted(ids) {
		t.Fatalf("NextIDs = %v, %v", ids, err)
	}
	now := time.Now()
	msg := func(i int, room, nick, body string) muc.Message {
		return muc.Message{ID: ids[i], Stamp: now.Add(time.Duration(i) * time.Millisecond), Room: room, Nick: nick,
			Sender: nick + "@example.org", Body: body, Stanza: []byte("<message xmlns='jabber:client'/>")}
	}
	batch := []muc.Message{
		msg(0, "a", "jul", "Good night, good night!"),
		msg(1, "b", "jul", "good night in room b"),
		msg(2, "gone", "jul", "good night nowhere"),
		msg(3, "a", "romeo", "Parting is such sweet sorrow"),
		msg(4, "a", "romeo", "明天见，晚安"),
		msg(5, "a", "jul", "That I shall say good night till it be morrow"),
		msg(6, "a", "nurse", ""),
	}
	if err := m.Write(ctx, svc, batch); err != nil {
		t.Fatal(err)
	}
	got := func(q muc.Query) []int64 {
		t.Helper()
		q.Max = 10
		p, err := m.Query(ctx, svc, "a", q)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, x := range p.Messages {
			if x.Room != "a" {
				t.Fatalf("message of room %q in room a's archive", x.Room)
			}
			out = append(out, x.ID)
		}
		return out
	}
	for _, tc := range []struct {
		q    muc.Query
		want []int64
	}{
		{muc.Query{}, []int64{ids[0], ids[3], ids[4], ids[5], ids[6]}},
		{muc.Query{Nick: "jul"}, []int64{ids[0], ids[5]}},
		{muc.Query{Sender: "romeo@example.org"}, []int64{ids[3], ids[4]}},
		{muc.Query{Text: "night"}, []int64{ids[0], ids[5]}},
		{muc.Query{Text: `"good night" -morrow`}, []int64{ids[0]}},
		{muc.Query{Text: "天见"}, []int64{ids[4]}},
		{muc.Query{Text: "night", Nick: "romeo"}, nil},
		{muc.Query{Text: "room"}, nil}, // only in room b
		{muc.Query{Start: batch[3].Stamp, End: batch[5].Stamp}, []int64{ids[3], ids[4], ids[5]}},
	} {
		if g := got(tc.q); !slices.Equal(g, tc.want) {
			t.Errorf("Query(%+v) = %v, want %v", tc.q, g, tc.want)
		}
	}
}

// TestMUCSearchNormalized runs normalizedSearches on a room's archive,
// and finds rows stored before words were normalised (unnormalizedRows).
func TestMUCSearchNormalized(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	m := postgres.NewMUC(pool)
	const svc = "conference.example.org"
	if err := m.SaveRoom(ctx, svc, muc.StoredRoom{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	write := func(bodies ...string) []int64 {
		t.Helper()
		ids, err := m.NextIDs(ctx, len(bodies))
		if err != nil {
			t.Fatal(err)
		}
		var batch []muc.Message
		for i, b := range bodies {
			batch = append(batch, muc.Message{ID: ids[i], Stamp: time.Now(), Room: "a", Nick: "jul",
				Sender: "juliet@example.org", Body: b, Stanza: []byte("<message xmlns='jabber:client'/>")})
		}
		if err := m.Write(ctx, svc, batch); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	search := func(text string, afterID int64) []int64 {
		t.Helper()
		p, err := m.Query(ctx, svc, "a", muc.Query{Max: 10, Text: text, AfterID: afterID})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, x := range p.Messages {
			out = append(out, x.ID)
		}
		return out
	}
	ids := write(normalizedBodies...)
	for _, tc := range normalizedSearches {
		var want []int64
		for _, i := range tc.want {
			want = append(want, ids[i])
		}
		if got := search(tc.search, 0); !slices.Equal(got, want) {
			t.Errorf("search %q: %v, want %v", tc.search, got, want)
		}
	}
	tag := postgres.RoomTag(svc, "a")
	for _, row := range unnormalizedRows {
		ids := write(row.body)
		terms := fmt.Sprintf(row.terms, tag)
		if _, err := pool.Exec(ctx, "UPDATE muc_messages SET terms = $1::tsvector WHERE id = $2", terms, ids[0]); err != nil {
			t.Fatal(err)
		}
		for _, s := range append(row.found, row.excluded...) {
			want := ids
			if slices.Contains(row.excluded, s) {
				want = nil
			}
			if got := search(s, ids[0]-1); !slices.Equal(got, want) {
				t.Errorf("search %q in %q stored as %s: %v, want %v", s, row.body, terms, got, want)
			}
		}
	}
}
