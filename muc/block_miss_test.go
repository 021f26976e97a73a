package muc_test

import (
	"context"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/blocking"
	"xmppd/muc"
	"xmppd/router"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// queue is a bound session that hands what it gets to the test.
type queue struct {
	j  jid.JID
	ch chan *xmlstream.Element
}

func (q *queue) JID() jid.JID { return q.j }
func (q *queue) Deliver(st *xmlstream.Element) bool {
	select {
	case q.ch <- st:
		return true
	default:
		return false
	}
}
func (q *queue) End(condition, text string) {}

// nextBody returns the sender and body of the next groupchat message
// with a body that q got.
func (q *queue) nextBody() (from, body string) {
	for st := range q.ch {
		if b := st.Child("jabber:client", "body"); st.Name.Local == "message" && st.Attr("type") == "groupchat" && b != nil {
			return st.Attr("from"), b.Text()
		}
	}
	return "", ""
}

// gatedBlocklists is the blocklist store, where reading the list of one
// account waits, once armed, until the test releases it.
type gatedBlocklists struct {
	blocking.Store
	account  jid.JID
	armed    chan struct{} // closed to arm the gate
	asked    chan struct{} // closed when the armed gate is reached
	released chan struct{} // closed to let the list be read
}

func (g *gatedBlocklists) List(ctx context.Context, account jid.JID) ([]jid.JID, error) {
	select {
	case <-g.armed:
		if account.Equal(g.account) {
			close(g.asked)
			<-g.released
		}
	default:
	}
	return g.Store.List(ctx, account)
}

// A room hands its stanzas straight to local sessions and must not wait
// for the database under its lock. When a recipient's blocklist is not
// in memory, what the room sends him waits, in order, while the list is
// read; the room goes on serving the others meanwhile, and the blocked
// occupant's message is then dropped, the other's delivered.
func TestBlocklistMissDoesNotHoldRoom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	creds, err := auth.DeriveCredentials("pw", auth.DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	accounts := postgres.NewAccounts(pool)
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		if err := accounts.Create(ctx, "localhost", u, creds); err != nil {
			t.Fatal(err)
		}
	}
	romeoAccount := jid.MustParse("romeo@localhost")
	gate := &gatedBlocklists{Store: postgres.NewBlocking(pool), account: romeoAccount,
		armed: make(chan struct{}), asked: make(chan struct{}), released: make(chan struct{})}
	r := router.New(router.Config{Hosts: []string{"localhost"}})
	b, err := blocking.New(blocking.Config{Store: gate}, r)
	if err != nil {
		t.Fatal(err)
	}
	b.Register()
	s, err := muc.New(ctx, r, muc.Config{Domain: service, Store: postgres.NewMUC(pool)})
	if err != nil {
		t.Fatal(err)
	}
	s.Register()
	t.Cleanup(s.Close)

	roomJID := jid.MustParse(room)
	join := func(user, nick string) *queue {
		q := &queue{j: jid.MustParse(user + "@localhost/r"), ch: make(chan *xmlstream.Element, 1000)}
		r.Bind(q)
		to, _ := roomJID.WithResource(nick)
		s.Route(ctx, q.j, to, xmlstream.NewElement("jabber:client", "presence", "to", to.String()).
			AddChild(xmlstream.NewElement(nsMUC, "x")))
		return q
	}
	say := func(q *queue, body string) {
		s.Route(ctx, q.j, roomJID, xmlstream.NewElement("jabber:client", "message", "type", "groupchat", "to", room).
			AddChild(xmlstream.NewElement("jabber:client", "body").AddText(body)))
	}
	juliet := join("juliet", "jul")
	s.Route(ctx, juliet.j, roomJID, xmlstream.NewElement("jabber:client", "iq", "type", "set", "id", "cfg", "to", room).
		AddChild(xmlstream.NewElement(nsMUC+"#owner", "query").
			AddChild(xmlstream.NewElement("jabber:x:data", "x", "type", "submit"))))
	romeo, nurse := join("romeo", "romeo"), join("nurse", "nurse")

	// Romeo blocks juliet's room JID, from another node of a cluster,
	// say: this node forgets his list and reads it again on next use.
	if _, err := gate.Store.Block(ctx, romeoAccount, []jid.JID{jid.MustParse(room + "/jul")}); err != nil {
		t.Fatal(err)
	}
	b.Forget(romeoAccount)
	close(gate.armed)

	say(juliet, "blocked")
	for waiting := true; waiting; {
		select {
		case <-gate.asked:
			waiting = false
		case st := <-romeo.ch:
			if st.Name.Local == "message" && st.Attr("type") == "groupchat" && st.Attr("from") == room+"/jul" {
				t.Fatalf("romeo got a message from the occupant he blocked: %s", st)
			}
		}
	}
	// Romeo's list is being read: the room goes on.
	say(nurse, "not blocked")
	for _, q := range []*queue{juliet, nurse} {
		if from, body := q.nextBody(); from != room+"/jul" || body != "blocked" {
			t.Fatalf("%s got %q from %s, want juliet's message", q.j, body, from)
		}
		if from, body := q.nextBody(); from != room+"/nurse" || body != "not blocked" {
			t.Fatalf("%s got %q from %s, want the nurse's message", q.j, body, from)
		}
	}
	close(gate.released)
	if from, body := romeo.nextBody(); from != room+"/nurse" || body != "not blocked" {
		t.Fatalf("romeo got %q from %s, want the nurse's message", body, from)
	}
}
