package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/roster"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

func TestRosterStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	accounts := postgres.NewAccounts(pool)
	for _, u := range []string{"juliet", "romeo"} {
		if err := accounts.Create(ctx, "example.org", u, []auth.Credential{cred("SHA-256", 1, 32)}); err != nil {
			t.Fatal(err)
		}
	}
	s := postgres.NewRoster(pool)
	juliet, romeo := jid.MustParse("juliet@example.org"), jid.MustParse("romeo@example.org")
	nurse := jid.MustParse("nurse@example.org")

	empty, err := s.Roster(ctx, juliet)
	if err != nil || empty.Version != 0 || len(empty.Items) != 0 {
		t.Fatalf("empty roster: %+v, %v", empty, err)
	}
	set := func(owner, contact jid.JID, f func(*roster.State)) roster.Change {
		t.Helper()
		ch, err := s.Update(ctx, owner, contact, 2, func(st roster.State) (roster.State, error) { f(&st); return st, nil })
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	ch := set(juliet, romeo, func(st *roster.State) {
		st.InRoster = true
		st.Item = roster.Item{Name: "Romeo", Subscription: roster.Both, Groups: []string{"B", "A"}}
	})
	if !ch.ItemChanged || ch.Version <= 0 {
		t.Fatalf("add: %+v", ch)
	}
	if again := set(juliet, romeo, func(*roster.State) {}); again.ItemChanged {
		t.Fatalf("no change reported as %+v", again)
	}
	ch2 := set(juliet, nurse, func(st *roster.State) { st.PendingIn = "<presence/>" })
	if ch2.ItemChanged {
		t.Fatalf("pending request changed the roster: %+v", ch2)
	}
	ros, err := s.Roster(ctx, juliet)
	if err != nil || ros.Version != ch.Version || len(ros.Items) != 1 || ros.Items[0].Name != "Romeo" ||
		ros.Items[0].Groups[0] != "B" || ros.Items[0].Subscription != roster.Both {
		t.Fatalf("roster: %+v, %v", ros, err)
	}
	st, err := s.State(ctx, juliet, nurse)
	if err != nil || st.InRoster || st.PendingIn != "<presence/>" {
		t.Fatalf("state: %+v, %v", st, err)
	}
	if p, err := s.PendingIn(ctx, juliet); err != nil || len(p) != 1 || !p[0].Contact.Equal(nurse) {
		t.Fatalf("pending: %+v, %v", p, err)
	}
	both, p, err := s.RosterAndPending(ctx, juliet)
	if err != nil || both.Version != ros.Version || len(both.Items) != 1 || both.Items[0].Name != "Romeo" ||
		len(p) != 1 || !p[0].Contact.Equal(nurse) || p[0].Stanza != "<presence/>" {
		t.Fatalf("roster and pending: %+v, %+v, %v", both, p, err)
	}
	if both, p, err := s.RosterAndPending(ctx, romeo); err != nil || len(both.Items) != 0 || len(p) != 0 {
		t.Fatalf("romeo's roster and pending: %+v, %+v, %v", both, p, err)
	}
	// The limit.
	set(juliet, nurse, func(st *roster.State) { st.InRoster = true })
	_, err = s.Update(ctx, juliet, jid.MustParse("tybalt@example.org"), 2, func(st roster.State) (roster.State, error) {
		st.InRoster = true
		return st, nil
	})
	if !errors.Is(err, roster.ErrTooManyItems) {
		t.Fatalf("over the limit: %v", err)
	}
	// Grants: romeo is granted juliet's presence.
	if err := s.SetLast(ctx, juliet, roster.Last{Status: "bye", Stanza: "<presence type='unavailable'/>", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	gs, err := s.Grants(ctx, romeo)
	if err != nil || len(gs) != 1 || !gs[0].Account.Equal(juliet) || gs[0].LastStanza == "" {
		t.Fatalf("grants: %+v, %v", gs, err)
	}
	if l, err := s.Last(ctx, juliet); err != nil || l.Status != "bye" {
		t.Fatalf("last: %+v, %v", l, err)
	}
	if _, err := s.Last(ctx, romeo); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("last of romeo: %v", err)
	}
	// No such account.
	if _, err := s.Update(ctx, jid.MustParse("ghost@example.org"), romeo, 2, func(st roster.State) (roster.State, error) { return st, nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("update of a missing account: %v", err)
	}
	// Removal bumps the version; deleting the account removes everything.
	ch3 := set(juliet, romeo, func(st *roster.State) { *st = roster.State{} })
	if !ch3.ItemChanged || ch3.Version <= ch.Version {
		t.Fatalf("remove: %+v", ch3)
	}
	if err := accounts.Delete(ctx, "example.org", "juliet"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM roster_items) + (SELECT count(*) FROM roster_pending_in) + (SELECT count(*) FROM last_presence) + (SELECT count(*) FROM roster_versions WHERE username = 'juliet')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows left after account deletion: %d, %v", n, err)
	}
}
