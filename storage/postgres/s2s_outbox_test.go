package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
)

// TestOutboxClaim: a claim takes the messages of claimers that are not
// live and were kept long enough ago, in the order they were kept, and
// a second claim finds them held by a live claimer.
func TestOutboxClaim(t *testing.T) {
	ctx := context.Background()
	o := postgres.NewOutbox(pgtest.Pool(t))
	add := func(claimer, body string) int64 {
		t.Helper()
		id, err := o.Add(ctx, claimer, "a.test", "b.test", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	claim := func(claimer string, live []string, olderThan time.Duration) []string {
		t.Helper()
		kept, err := o.Claim(ctx, claimer, live, olderThan)
		if err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, k := range kept {
			if k.Local != "a.test" || k.Remote != "b.test" {
				t.Errorf("claimed %+v; want a.test to b.test", k)
			}
			bodies = append(bodies, string(k.Stanza))
		}
		return bodies
	}
	gone1 := add(claimerA, "a1")
	add(claimerB, "b1")
	add(claimerA, "a2")

	if got := claim(claimerB, []string{claimerB}, time.Hour); got != nil {
		t.Errorf("claimed %q of messages kept just now; want none", got)
	}
	if got := claim(claimerB, []string{claimerB}, 0); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("claimed %q; want the gone claimer's a1, a2", got)
	}
	if got := claim("c", []string{"c", claimerB}, 0); got != nil {
		t.Errorf("claimed %q of a live claimer's messages; want none", got)
	}
	if err := o.Remove(ctx, []int64{gone1}); err != nil {
		t.Fatal(err)
	}
	if got := claim("c", []string{"c"}, 0); !slices.Equal(got, []string{"b1", "a2"}) {
		t.Errorf("claimed %q after removing a1; want b1, a2", got)
	}
}
