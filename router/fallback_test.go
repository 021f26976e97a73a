package router

import (
	"context"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// refusingSession is a bound session that records what it takes, or
// takes nothing (a session that is ending, or whose queue is full).
type refusingSession struct {
	j      jid.JID
	refuse bool
	got    []*xmlstream.Element
}

func (f *refusingSession) JID() jid.JID { return f.j }
func (f *refusingSession) Deliver(st *xmlstream.Element) bool {
	if f.refuse {
		return false
	}
	f.got = append(f.got, st)
	return true
}
func (f *refusingSession) End(condition, text string) {}

// RFC 6121 §8.5.2.1.1: a chat message to the bare JID goes to the
// available resource of highest priority. When that one cannot take it
// (it is being torn down, or its queue overflowed), another available
// resource with a non-negative priority is there: the message must go to
// it, not come back to its sender as "the recipient is offline" (nor wait
// in offline storage while the account is online).
func TestBareMessageFallsBackToAnotherResource(t *testing.T) {
	ctx := context.Background()
	r := New(Config{Hosts: []string{"localhost"}})
	phone := &refusingSession{j: jid.MustParse("juliet@localhost/phone"), refuse: true}
	desk := &refusingSession{j: jid.MustParse("juliet@localhost/desk")}
	romeo := &refusingSession{j: jid.MustParse("romeo@localhost/orchard")}
	for _, s := range []*refusingSession{phone, desk, romeo} {
		r.Bind(s)
	}
	presence := func(from, body string) *xmlstream.Element {
		el, err := xmlstream.ParseElement([]byte("<presence xmlns='jabber:client' from='"+from+"'>"+body+"</presence>"), xmlstream.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return el
	}
	r.FromClient(ctx, presence(phone.j.String(), "<priority>5</priority>"))
	r.FromClient(ctx, presence(desk.j.String(), "<priority>0</priority>"))
	desk.got = nil

	msg, err := xmlstream.ParseElement([]byte("<message xmlns='jabber:client' from='romeo@localhost/orchard' to='juliet@localhost' type='chat'><body>hi</body></message>"), xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r.Route(ctx, msg)
	if len(desk.got) != 1 || desk.got[0].Name.Local != "message" || desk.got[0].Attr("type") == "error" {
		for _, el := range romeo.got {
			t.Logf("romeo got %s", el.Append(nil, ""))
		}
		t.Fatalf("juliet's desk (available, priority 0) got %d stanzas; want the message", len(desk.got))
	}
}
