package register_test

import (
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/register"
	"xmppd/xmlstream"
)

// XEP-0401 §5.1, §5.3: a user makes an invitation with the
// urn:xmpp:invite#invite command and gets its xmpp: URI at once. The
// friend who registers with its token has the inviter as a contact, and
// the inviter the friend, subscribed both ways; the token is then used.
func TestInviteAFriend(t *testing.T) {
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.RequireInvite = true
	})
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "phone")
	romeo.Result("get", "", "<query xmlns='jabber:iq:roster'/>") // romeo gets roster pushes
	romeo.Online()

	items := romeo.Result("get", xmpptest.Domain, "<query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/>")
	if !strings.Contains(items.String(), "node='urn:xmpp:invite#invite'") {
		t.Fatalf("the invitation command is not listed: %s", items)
	}
	token := invite(t, romeo)
	// Its page names romeo, with the link that adds him.
	resp, page := get(t, s, register.InvitePath+token)
	if resp.StatusCode != 200 || !strings.Contains(page, "romeo@localhost invites you") ||
		!strings.Contains(page, `href="xmpp:romeo@localhost?roster;preauth=`+token+`;ibr=y"`) {
		t.Fatalf("the page of romeo's invitation: %d\n%s", resp.StatusCode, page)
	}

	c, _ := connect(t, s)
	expectResult(t, ask(t, c, "<iq type='set' id='p' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='"+token+"'/></iq>"))
	expectResult(t, ask(t, c, registerIQ("r", "juliet", "balcony")))
	expectItem(t, romeo.NextNamed("iq"), "juliet@localhost")

	juliet := xmpptest.Login(t, s, "juliet", "balcony", "laptop")
	roster := juliet.Result("get", "", "<query xmlns='jabber:iq:roster'/>")
	expectItem(t, roster, "romeo@localhost")
	juliet.Send("<presence/>")
	// Each now sees the other's presence.
	romeo.ExpectPresenceFrom("juliet@localhost/laptop")
	for got := map[string]bool{}; !got["juliet@localhost/laptop"] || !got["romeo@localhost/phone"]; {
		got[juliet.NextNamed("presence").Attr("from")] = true
	}

	// The token made one account.
	c, _ = connect(t, s)
	expectError(t, ask(t, c, formIQ("r2", "tybalt", "pw", token)), "forbidden")
}

// invite runs the invitation command as c and returns the invitation's
// token, checking the result form.
func invite(t *testing.T, c *xmpptest.Client) string {
	t.Helper()
	res := c.Result("set", xmpptest.Domain, "<command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp:invite#invite' action='execute'/>")
	cmd := res.Child("http://jabber.org/protocol/commands", "command")
	x := cmd.Child("jabber:x:data", "x")
	if cmd.Attr("status") != "completed" || x == nil || x.Attr("type") != "result" {
		t.Fatalf("invitation command: %s", res)
	}
	values := map[string]string{}
	for _, f := range x.ChildElements() {
		if v := f.Child("jabber:x:data", "value"); v != nil {
			values[f.Attr("var")] = v.Text()
		}
	}
	token, ok := strings.CutPrefix(values["uri"], "xmpp:"+c.JID[:strings.IndexByte(c.JID, '/')]+"?roster;preauth=")
	token, ibr := strings.CutSuffix(token, ";ibr=y")
	if values["FORM_TYPE"] != "urn:xmpp:invite#invitation" || !ok || !ibr || token == "" || values["expire"] == "" ||
		!strings.HasSuffix(values["landing-url"], register.InvitePath+token) {
		t.Fatalf("invitation form: %s", x)
	}
	return token
}

// On a server open to registration, a registration with a user's
// invitation makes the two contacts too; one with a used token is an
// ordinary registration.
func TestInviteOnOpenServer(t *testing.T) {
	s := xmpptest.Start(t, enabled)
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "phone")
	romeo.Result("get", "", "<query xmlns='jabber:iq:roster'/>")
	token := invite(t, romeo)
	c, _ := connect(t, s)
	expectResult(t, ask(t, c, formIQ("r", "juliet", "balcony", token)))
	expectItem(t, romeo.NextNamed("iq"), "juliet@localhost")
	expectResult(t, ask(t, c, formIQ("r2", "tybalt", "pw", token)))
	romeo.Ping() // no push for tybalt
}

// expectItem checks that el, a roster result or push, holds one item,
// for contact with subscription both.
func expectItem(t *testing.T, el *xmlstream.Element, contact string) {
	t.Helper()
	q := el.Child("jabber:iq:roster", "query")
	if q == nil || len(q.ChildElements()) != 1 {
		t.Fatalf("want a roster of one item, got %s", el)
	}
	if it := q.ChildElements()[0]; it.Attr("jid") != contact || it.Attr("subscription") != "both" {
		t.Fatalf("want %s with subscription both, got %s", contact, el)
	}
}

// XEP-0379: a user who already has an account subscribes to the inviter
// with the invitation's token; the inviter's server approves it and asks
// back, and the two end up subscribed both ways. The token works once.
func TestInvitationSubscribes(t *testing.T) {
	s := xmpptest.Start(t, enabled)
	for _, u := range []string{"romeo", "juliet", "tybalt"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	romeo := xmpptest.Login(t, s, "romeo", "pw", "phone")
	romeo.Result("get", "", "<query xmlns='jabber:iq:roster'/>")
	romeo.Online()
	token := invite(t, romeo)

	juliet := xmpptest.Login(t, s, "juliet", "pw", "laptop")
	juliet.Result("get", "", "<query xmlns='jabber:iq:roster'/>")
	juliet.Send("<presence to='romeo@localhost' type='subscribed'/>") // pre-approval, as XEP-0379 §2.3 asks
	juliet.Send("<presence to='romeo@localhost' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='" + token + "'/></presence>")
	untilBoth(t, romeo, "juliet@localhost")
	untilBoth(t, juliet, "romeo@localhost")

	// Used once: tybalt's request with it waits for romeo.
	tybalt := xmpptest.Login(t, s, "tybalt", "pw", "street")
	tybalt.Send("<presence to='romeo@localhost' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='" + token + "'/></presence>")
	for {
		if el := romeo.Next(); el.Name.Local == "presence" && el.Attr("type") == "subscribe" {
			if el.Attr("from") != "tybalt@localhost" {
				t.Fatalf("romeo got %s, want tybalt's request", el)
			}
			break
		}
	}
}

// untilBoth reads c's roster pushes until one says c's account and
// contact are subscribed both ways.
func untilBoth(t *testing.T, c *xmpptest.Client, contact string) {
	t.Helper()
	for {
		el := c.Next()
		q := el.Child("jabber:iq:roster", "query")
		if el.Name.Local != "iq" || q == nil {
			continue
		}
		c.Send("<iq type='result' id='" + el.Attr("id") + "'/>")
		if it := q.Child("jabber:iq:roster", "item"); it != nil && it.Attr("jid") == contact && it.Attr("subscription") == "both" {
			return
		}
	}
}

// XEP-0401 §5.4, §6.2: an admin invites someone to an account with a
// username of the admin's choice. Only that username can be registered
// with the invitation, and nobody else may register it meanwhile; with
// roster-subscription, the new account and the admin are contacts.
func TestInviteToAccount(t *testing.T) {
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.RequireInvite = true
		cfg.Admins = []string{"romeo@localhost"}
	})
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "phone")
	romeo.Result("get", "", "<query xmlns='jabber:iq:roster'/>") // romeo gets roster pushes
	juliet := xmpptest.Login(t, s, "juliet", "pw", "laptop")
	juliet.Send("<iq type='set' id='j' to='localhost'><command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp:invite#create-account' action='execute'/></iq>")
	if el := juliet.NextNamed("iq"); el.Attr("type") != "error" {
		t.Fatalf("a user ran the admins' command: %s", el)
	}

	uri, x := inviteToAccount(t, romeo, "Tybalt", true)
	token, ok := strings.CutPrefix(uri, "xmpp:tybalt@localhost?register;preauth=")
	if !ok || token == "" {
		t.Fatalf("invitation form: %s", x)
	}
	if _, x := inviteToAccount(t, romeo, "tybalt", false); x != nil {
		t.Fatalf("a second invitation reserved the same username: %s", x)
	}
	if _, x := inviteToAccount(t, romeo, "juliet", false); x != nil {
		t.Fatalf("an invitation reserved an account's username: %s", x)
	}
	resp, page := get(t, s, register.InvitePath+token)
	if resp.StatusCode != 200 || !strings.Contains(page, "Your account tybalt@localhost") ||
		!strings.Contains(page, `href="xmpp:tybalt@localhost?register;preauth=`+token+`"`) {
		t.Fatalf("the page of the account invitation: %d\n%s", resp.StatusCode, page)
	}

	// Another invitation, without a username, cannot take tybalt.
	other, _ := inviteToAccount(t, romeo, "", false)
	otherToken, ok := strings.CutPrefix(other, "xmpp:localhost?register;preauth=")
	if !ok {
		t.Fatalf("invitation without a username: %s", other)
	}
	c, _ := connect(t, s)
	expectError(t, ask(t, c, formIQ("r1", "tybalt", "pw", otherToken)), "conflict")
	// tybalt's invitation registers tybalt only.
	expectError(t, ask(t, c, formIQ("r2", "mercutio", "pw", token)), "not-allowed")
	expectResult(t, ask(t, c, formIQ("r3", "tybalt", "pw", token)))
	expectItem(t, romeo.NextNamed("iq"), "tybalt@localhost")
	// The other invitation is still unused, and the name free to invite again.
	expectResult(t, ask(t, c, formIQ("r4", "mercutio", "pw", otherToken)))
}

// inviteToAccount runs the account invitation command as c for username,
// and returns the invitation's URI and the result form, or "" and nil
// when the command refused.
func inviteToAccount(t *testing.T, c *xmpptest.Client, username string, subscribe bool) (string, *xmlstream.Element) {
	t.Helper()
	res := c.Result("set", xmpptest.Domain, "<command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp:invite#create-account' action='execute'/>")
	cmd := res.Child("http://jabber.org/protocol/commands", "command")
	if cmd.Attr("status") != "executing" || cmd.Child("jabber:x:data", "x") == nil {
		t.Fatalf("account invitation command: %s", res)
	}
	roster := "0"
	if subscribe {
		roster = "1"
	}
	res = c.Result("set", xmpptest.Domain, "<command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp:invite#create-account' sessionid='"+
		cmd.Attr("sessionid")+"' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='username'><value>"+username+
		"</value></field><field var='roster-subscription'><value>"+roster+"</value></field></x></command>")
	cmd = res.Child("http://jabber.org/protocol/commands", "command")
	x := cmd.Child("jabber:x:data", "x")
	if x == nil {
		if note := cmd.Child("http://jabber.org/protocol/commands", "note"); note == nil || note.Attr("type") != "error" {
			t.Fatalf("account invitation neither made nor refused: %s", res)
		}
		return "", nil
	}
	values := map[string]string{}
	for _, f := range x.ChildElements() {
		if v := f.Child("jabber:x:data", "value"); v != nil {
			values[f.Attr("var")] = v.Text()
		}
	}
	if values["FORM_TYPE"] != "urn:xmpp:invite#invitation" || values["expire"] == "" || values["landing-url"] == "" {
		t.Fatalf("invitation form: %s", x)
	}
	return values["uri"], x
}
