package server_test

import (
	"context"
	"log/slog"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
	"xmppd/server"
	"xmppd/storage/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// deleteJuliet deletes juliet@localhost as `xmppd user delete` does, on a
// pool of its own.
func deleteJuliet(s *xmpptest.Server) error {
	db := &server.Database{Pool: s.DB}
	return server.DeleteAccount(context.Background(), s.Config, slog.New(slog.DiscardHandler), db, jid.MustParse("juliet@localhost"))
}

// subscribed starts a server where juliet and romeo are online and romeo,
// who asked for his roster (so he gets its pushes), is subscribed to
// juliet's presence.
func subscribed(t *testing.T) (s *xmpptest.Server, juliet, romeo *xmpptest.Client) {
	s = xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	juliet = xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	romeo = xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
	romeo.NextNamed("iq")
	romeo.Online()
	romeo.Send("<presence to='juliet@localhost' type='subscribe'/>")
	romeo.NextNamed("iq") // roster push: ask
	juliet.NextNamed("presence")
	juliet.Send("<presence to='romeo@localhost' type='subscribed'/>")
	romeo.NextNamed("presence") // subscribed
	romeo.NextNamed("iq")       // roster push: to
	romeo.ExpectPresenceFrom(juliet.JID)
	return s, juliet, romeo
}

// Deleting an account from the command line unsubscribes its contacts.
func TestDeleteAccountUnsubscribesContacts(t *testing.T) {
	s, juliet, romeo := subscribed(t)
	romeo.Send("</stream:stream>")
	juliet.Send("</stream:stream>")

	if err := deleteJuliet(s); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Accounts.Exists(context.Background(), xmpptest.Domain, "juliet"); ok {
		t.Fatal("juliet still exists")
	}
	romeo = xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
	for _, item := range romeo.NextNamed("iq").Child("jabber:iq:roster", "query").ChildElements() {
		if item.Attr("jid") == "juliet@localhost" && item.Attr("subscription") != "none" {
			t.Errorf("romeo's roster still has a subscription to juliet: %s", item)
		}
	}
	if err := deleteJuliet(s); err == nil {
		t.Error("deleting a deleted account succeeded")
	}
}

// Deleting an account from the command line while a server runs: that
// server does it, so the account's sessions end with <not-authorized/> and
// its contacts online see it go, with their rosters pushed, at once.
func TestDeleteAccountWhileOnline(t *testing.T) {
	s, juliet, romeo := subscribed(t)

	if err := deleteJuliet(s); err != nil {
		t.Fatal(err)
	}
	juliet.ExpectStreamError("not-authorized")
	if el := romeo.NextNamed("presence"); el.Attr("from") != "juliet@localhost" || el.Attr("type") != "unavailable" {
		t.Fatalf("romeo got %s, want juliet's unavailable presence", el)
	}
	for {
		el := romeo.Next()
		if el.Name.Local == "iq" {
			item := el.Child("jabber:iq:roster", "query").Child("jabber:iq:roster", "item")
			if item.Attr("jid") == "juliet@localhost" && item.Attr("subscription") == "none" {
				break // the push that ends the subscription
			}
		}
	}
	if ok, _ := s.Accounts.Exists(context.Background(), xmpptest.Domain, "juliet"); ok {
		t.Fatal("juliet still exists")
	}
}
