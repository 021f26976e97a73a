package mam_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/mam"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// TestFollowerMissesNothing archives from many senders at once, so that
// batches are inserted in parallel, while a reader follows the archive
// with after-id paging as a client catching up does. Ids must grow in
// commit order: a batch committed after the reader passed its ids would
// be skipped. With two nodes, each with its own writer on one database,
// that must hold across them too.
func TestFollowerMissesNothing(t *testing.T) {
	t.Run("one node", func(t *testing.T) {
		m, store, _ := benchArchive(t, followSenders+1)
		followWhileArchiving(t, store, m)
	})
	t.Run("two nodes", func(t *testing.T) {
		_, store, pool := benchArchive(t, followSenders+1)
		followWhileArchiving(t, store,
			archiveNode(t, postgres.NewArchive(pool), true), archiveNode(t, postgres.NewArchive(pool), true))
	})
}

const followSenders = 16

// followWhileArchiving has followSenders senders archive messages to u0
// through nodes, taking turns, while it follows u0's archive in store.
func followWhileArchiving(t *testing.T, store *postgres.Archive, nodes ...*mam.Module) {
	const senders, each = followSenders, 150
	ctx := context.Background()
	to := jid.MustParse("u0@localhost")
	var wg sync.WaitGroup
	for s := 1; s <= senders; s++ {
		from := jid.MustParse(fmt.Sprintf("u%d@localhost/r", s))
		m := nodes[s%len(nodes)]
		wg.Go(func() {
			for i := range each {
				st := xmlstream.NewElement("jabber:client", "message", "type", "chat", "from", from.String(), "to", to.String()).
					AddChild(xmlstream.NewElement("jabber:client", "body").AddText(fmt.Sprint(i)))
				if _, err := m.Archive(ctx, from, to, st); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()

	var seen []int64
	follow := func() {
		for {
			q := mam.Query{Max: 100}
			if len(seen) > 0 {
				q.AfterID = seen[len(seen)-1]
			}
			p, err := store.Query(ctx, "localhost", "u0", q)
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range p.Messages {
				seen = append(seen, msg.ID)
			}
			if p.Complete {
				return
			}
		}
	}
	for done := false; !done; {
		select {
		case <-sendersDone:
			done = true
		default:
		}
		follow()
	}
	p, err := store.Query(ctx, "localhost", "u0", mam.Query{Max: senders * each})
	if err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, msg := range p.Messages {
		all = append(all, msg.ID)
	}
	if len(all) != senders*each || !slices.Equal(seen, all) {
		t.Fatalf("the follower saw %d messages, the archive holds %d (%d archived)", len(seen), len(all), senders*each)
	}
}
