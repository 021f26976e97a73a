package roster_test

import (
	"context"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
	"xmppd/roster"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

// tableState builds a roster.State from the notation of RFC 6121
// Appendix A.1; "-" is no item and no request.
func tableState(name string) roster.State {
	if name == "-" {
		return roster.State{}
	}
	st := roster.State{InRoster: true}
	sub, pending, _ := strings.Cut(name, "+")
	st.Item.Subscription = map[string]roster.Subscription{"None": roster.None, "To": roster.To, "From": roster.From, "Both": roster.Both}[sub]
	st.Item.Ask = strings.Contains(pending, "Out")
	if strings.Contains(pending, "In") {
		st.PendingIn = "<presence xmlns='jabber:client' type='subscribe'/>"
	}
	return st
}

// tableName is the notation of tableState for st.
func tableName(st roster.State) string {
	if !st.InRoster && st.PendingIn == "" {
		return "-"
	}
	n := map[roster.Subscription]string{roster.None: "None", roster.To: "To", roster.From: "From", roster.Both: "Both"}[st.Item.Subscription]
	if !st.InRoster {
		n = "None"
	}
	switch {
	case st.Item.Ask && st.PendingIn != "":
		n += "+PendingOutIn"
	case st.Item.Ask:
		n += "+PendingOut"
	case st.PendingIn != "":
		n += "+PendingIn"
	}
	return n
}

var tableStates = []string{"None", "None+PendingOut", "None+PendingIn", "None+PendingOutIn", "To", "To+PendingIn", "From", "From+PendingOut", "Both"}

// received reads everything c got before a ping's answer.
func received(c *xmpptest.Client) []*xmlstream.Element {
	c.T.Helper()
	c.Send("<iq type='get' id='barrier' to='" + xmpptest.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	var got []*xmlstream.Element
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Attr("id") == "barrier" {
			return got
		}
		got = append(got, el)
	}
}

// summary says what of interest c got: roster pushes of contact's item,
// as its subscription and ask, and presence of type typ from contact.
func summary(c *xmpptest.Client, contact, typ string) (pushes []string, delivered bool) {
	c.T.Helper()
	for _, el := range received(c) {
		switch el.Name.Local {
		case "iq":
			it := el.Child(nsRoster, "query").Child(nsRoster, "item")
			if it != nil && it.Attr("jid") == contact {
				pushes = append(pushes, it.Attr("subscription")+it.Attr("ask"))
			}
		case "presence":
			if el.Attr("from") == contact && el.Attr("type") == typ {
				delivered = true
			}
		}
	}
	return pushes, delivered
}

// setState sets owner's state for contact in the database, telling
// nobody.
func setState(t *testing.T, store roster.Store, owner, contact string, name string) {
	t.Helper()
	_, err := store.Update(context.Background(), jid.MustParse(owner), jid.MustParse(contact), 100,
		func(roster.State) (roster.State, error) { return tableState(name), nil })
	if err != nil {
		t.Fatal(err)
	}
}

// jb and rb are the bare JIDs of the table tests' pair.
const jb, rb = "juliet@localhost", "romeo@localhost"

// tablePair starts a server with juliet and romeo online, for the table
// tests, and returns its roster store and their sessions.
func tablePair(t *testing.T) (store *postgres.Roster, juliet, romeo *xmpptest.Client) {
	t.Helper()
	s := start(t)
	juliet, _ = online(t, s, "juliet", "balcony")
	romeo, _ = online(t, s, "romeo", "orchard")
	return postgres.NewRoster(s.DB), juliet, romeo
}

// TestInboundTables walks RFC 6121 Appendix A.3 through a server: romeo,
// in each state, receives each subscription stanza from juliet. It checks
// romeo's next state, that he gets a roster push exactly when his item
// changed, that the stanza reaches him only where the table says so, and
// that the server answers 'subscribed' for him where he already approved.
func TestInboundTables(t *testing.T) {
	store, juliet, romeo := tablePair(t)
	// want[type][i]: romeo's next state from tableStates[i]; "!" the
	// stanza is delivered, "+" the server approves for him.
	want := map[string][]string{
		"subscribe":    {"None+PendingIn!", "None+PendingOutIn!", "None+PendingIn", "None+PendingOutIn", "To+PendingIn!", "To+PendingIn", "From+", "From+PendingOut+", "Both+"},
		"unsubscribe":  {"None", "None+PendingOut", "None!", "None+PendingOut!", "To", "To!", "None!", "None+PendingOut!", "To!"},
		"subscribed":   {"None", "To!", "None+PendingIn", "To+PendingIn!", "To", "To+PendingIn", "From", "Both!", "Both"},
		"unsubscribed": {"None", "None!", "None+PendingIn", "None+PendingIn!", "None!", "None+PendingIn!", "From", "From!", "From!"},
	}
	// juliet's state, from which she routes the type to romeo.
	sender := map[string]string{"subscribe": "-", "unsubscribe": "To", "subscribed": "None+PendingIn", "unsubscribed": "None+PendingIn"}
	for _, typ := range []string{"subscribe", "unsubscribe", "subscribed", "unsubscribed"} {
		for i, from := range tableStates {
			setState(t, store, jb, rb, sender[typ])
			setState(t, store, rb, jb, from)
			juliet.Send("<presence to='" + rb + "' type='" + typ + "'/>")
			julietPushes, approved := summary(juliet, rb, "subscribed")
			pushes, delivered := summary(romeo, jb, typ)
			st, err := store.State(context.Background(), jid.MustParse(rb), jid.MustParse(jb))
			if err != nil {
				t.Fatal(err)
			}
			got := tableName(st)
			if delivered {
				got += "!"
			}
			if approved && typ == "subscribe" {
				got += "+"
			}
			if got != want[typ][i] {
				t.Errorf("inbound %s in %s: got %s, want %s (juliet's pushes %v)", typ, from, got, want[typ][i], julietPushes)
			}
			changed := shown(strings.TrimRight(want[typ][i], "!+")) != shown(from)
			if changed != (len(pushes) == 1) || len(pushes) > 1 {
				t.Errorf("inbound %s in %s: romeo's pushes %v, want one: %v", typ, from, pushes, changed)
			}
		}
	}
}

// shown is the part of a state's notation that its roster item shows: a
// pending request in is not part of the item.
func shown(name string) string {
	name = strings.Replace(name, "PendingOutIn", "PendingOut", 1)
	return strings.TrimSuffix(name, "+PendingIn")
}

// TestOutboundTables walks RFC 6121 Appendix A.2 through a server:
// juliet, in each state, sends each subscription stanza to romeo. It
// checks her next state, that she gets a roster push when her item
// changed (and for every 'subscribe', §3.1.2), and that the stanza goes
// on to romeo only where the table says so.
func TestOutboundTables(t *testing.T) {
	store, juliet, romeo := tablePair(t)
	// want[type][i]: juliet's next state from tableStates[i]; "!" the
	// stanza reaches romeo.
	want := map[string][]string{
		"subscribe":    {"None+PendingOut!", "None+PendingOut!", "None+PendingOutIn!", "None+PendingOutIn!", "To!", "To+PendingIn!", "From+PendingOut!", "From+PendingOut!", "Both!"},
		"unsubscribe":  {"None!", "None!", "None+PendingIn!", "None+PendingIn!", "None!", "None+PendingIn!", "From!", "From!", "From!"},
		"subscribed":   {"None", "None+PendingOut", "From!", "From+PendingOut!", "To", "Both!", "From", "From+PendingOut", "Both"},
		"unsubscribed": {"None", "None+PendingOut", "None!", "None+PendingOut!", "To", "To!", "None!", "None+PendingOut!", "To!"},
	}
	// romeo's state, in which he is given the type.
	receiver := map[string]string{"subscribe": "-", "unsubscribe": "From", "subscribed": "None+PendingOut", "unsubscribed": "None+PendingOut"}
	for _, typ := range []string{"subscribe", "unsubscribe", "subscribed", "unsubscribed"} {
		for i, from := range tableStates {
			setState(t, store, rb, jb, receiver[typ])
			setState(t, store, jb, rb, from)
			juliet.Send("<presence to='" + rb + "' type='" + typ + "'/>")
			pushes, _ := summary(juliet, rb, typ)
			_, routed := summary(romeo, jb, typ)
			st, err := store.State(context.Background(), jid.MustParse(jb), jid.MustParse(rb))
			if err != nil {
				t.Fatal(err)
			}
			// Pre-approval is not in the notation.
			st.Item.Approved = false
			got := tableName(st)
			if routed {
				got += "!"
			}
			if got != want[typ][i] {
				t.Errorf("outbound %s in %s: got %s, want %s", typ, from, got, want[typ][i])
			}
			// A pre-approval (§3.4) changes the item too.
			preApproval := typ == "subscribed" && (from == "None" || from == "None+PendingOut" || from == "To")
			changed := typ == "subscribe" || preApproval || shown(strings.TrimRight(want[typ][i], "!")) != shown(from)
			if changed != (len(pushes) == 1) || len(pushes) > 1 {
				t.Errorf("outbound %s in %s: juliet's pushes %v, want one: %v", typ, from, pushes, changed)
			}
		}
	}
}
