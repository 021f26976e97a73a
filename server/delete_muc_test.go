package server_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
	"xmppd/server"
	"xmppd/xmlstream"
)

// TestDeleteAccountEndsAffiliations: a deleted account's affiliations
// with rooms go with it, so that a new account of its name is no member,
// admin or owner of the rooms the old one was.
func TestDeleteAccountEndsAffiliations(t *testing.T) {
	const room = "room@conference.localhost"
	const admin = "http://jabber.org/protocol/muc#admin"
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "nurse", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.Send("<presence to='" + room + "/jul'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	juliet.NextNamed("presence")
	juliet.Send("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'>" +
		"<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>")
	next := func(id string) *xmlstream.Element {
		for {
			if el := juliet.Next(); el.Name.Local == "iq" && el.Attr("id") == id {
				return el
			}
		}
	}
	if el := next("cfg"); el.Attr("type") != "result" {
		t.Fatalf("configuring the room: %s", el)
	}
	juliet.Send("<iq type='set' id='aff' to='" + room + "'><query xmlns='" + admin + "'><item jid='nurse@localhost' affiliation='admin'/></query></iq>")
	if el := next("aff"); el.Attr("type") != "result" {
		t.Fatalf("making the nurse an admin: %s", el)
	}

	if err := server.DeleteAccount(context.Background(), s.Config, slog.New(slog.DiscardHandler), &server.Database{Pool: s.DB}, jid.MustParse("nurse@localhost")); err != nil {
		t.Fatal(err)
	}
	s.AddUser(t, "nurse", xmpptest.Domain, "someone else's")
	juliet.Send("<iq type='get' id='admins' to='" + room + "'><query xmlns='" + admin + "'><item affiliation='admin'/></query></iq>")
	if el := next("admins"); el.Attr("type") != "result" || strings.Contains(el.String(), "nurse@localhost") {
		t.Fatalf("the admins of the room after the nurse's account was deleted and made again: %s", el)
	}

	// So with an account removed in-band (XEP-0077).
	juliet.Send("<iq type='set' id='mem' to='" + room + "'><query xmlns='" + admin + "'><item jid='nurse@localhost' affiliation='member'/></query></iq>")
	if el := next("mem"); el.Attr("type") != "result" {
		t.Fatalf("making the nurse a member: %s", el)
	}
	nurse := xmpptest.Login(t, s, "nurse", "someone else's", "ward")
	nurse.Send("<iq type='set' id='rm'><query xmlns='jabber:iq:register'><remove/></query></iq>")
	if el := nurse.NextNamed("iq"); el.Attr("type") != "result" {
		t.Fatalf("removing the account: %s", el)
	}
	juliet.Send("<iq type='get' id='members' to='" + room + "'><query xmlns='" + admin + "'><item affiliation='member'/></query></iq>")
	if el := next("members"); el.Attr("type") != "result" || strings.Contains(el.String(), "nurse@localhost") {
		t.Fatalf("the members of the room after the nurse removed her account: %s", el)
	}
}
