package router

import (
	"context"
	"errors"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// answeringSession hands every IQ it is given to answer, which may route
// a reply through the router as a client would.
type answeringSession struct {
	j      jid.JID
	answer func(iq *xmlstream.Element)
}

func (a *answeringSession) JID() jid.JID { return a.j }
func (a *answeringSession) Deliver(st *xmlstream.Element) bool {
	if st.Name.Local == stanza.IQ {
		go a.answer(st)
	}
	return true
}
func (a *answeringSession) End(condition, text string) {}

func TestQueryGetsTheAnswer(t *testing.T) {
	r := New(Config{Hosts: []string{"localhost"}})
	server := jid.MustParse("localhost")
	juliet := jid.MustParse("juliet@localhost/balcony")
	romeo := jid.MustParse("romeo@localhost/orchard")
	reply := func(from jid.JID, typ string) func(iq *xmlstream.Element) {
		return func(iq *xmlstream.Element) {
			res := xmlstream.NewElement(stanza.NSClient, stanza.IQ, "type", typ, "id", iq.Attr("id"), "to", iq.Attr("from"))
			res.AddChild(xmlstream.NewElement("urn:example", "answer"))
			res.SetAttr("from", from.String())
			r.FromClient(context.Background(), res)
		}
	}
	ask := func(to jid.JID) (*xmlstream.Element, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		defer cancel()
		return r.Query(ctx, "get", server, to, xmlstream.NewElement("urn:example", "question"))
	}

	r.Bind(&answeringSession{juliet, reply(juliet, "result")})
	got, err := ask(juliet)
	if err != nil || got == nil || got.Name.Local != "answer" {
		t.Fatalf("Query = %v, %v; want the <answer/>", got, err)
	}

	// Another session answering with the id of a query to juliet is not
	// taken for her answer.
	r.Bind(&answeringSession{romeo, reply(romeo, "error")})
	if _, err := ask(romeo); !errors.Is(err, ErrQueryFailed) {
		t.Fatalf("an error answer gave %v, want ErrQueryFailed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r.Unbind(r.session(juliet))
	stillPending := make(chan bool, 1)
	spoofer := &answeringSession{juliet, func(iq *xmlstream.Element) {
		reply(romeo, "result")(iq) // answers as romeo: must not count
		r.queriesMu.Lock()
		_, waits := r.queries[iq.Attr("id")]
		r.queriesMu.Unlock()
		stillPending <- waits
		cancel()
	}}
	r.Bind(spoofer)
	go func() {
		_, err := r.Query(ctx, "get", server, juliet, xmlstream.NewElement("urn:example", "question"))
		done <- err
	}()
	if !<-stillPending {
		t.Fatal("an answer from another address than the one asked was taken")
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("an answer from the wrong address gave %v, want the query to wait until cancelled", err)
	}
	if n := len(r.queries); n != 0 {
		t.Fatalf("%d queries left pending", n)
	}
}
