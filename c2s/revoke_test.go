package c2s_test

import (
	"encoding/base64"
	"testing"

	"github.com/xdg-go/scram"

	"xmppd/internal/xmpptest"
)

// A login whose exchange read the old credentials before the password
// changed is revoked with the others, although it completes afterwards:
// its client-final message proves only the old password.
func TestLoginStraddlingPasswordChangeIsRevoked(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "old pass")
	juliet := xmpptest.Login(t, s, "juliet", "old pass", "balcony")

	client, err := scram.SHA256.NewClient("juliet", "old pass", "")
	if err != nil {
		t.Fatal(err)
	}
	conv := client.NewConversation()
	first, _ := conv.Step("")
	thief, _ := encrypted(t, s)
	thief.Send("<auth xmlns='" + nsSASL + "' mechanism='SCRAM-SHA-256'>" + base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>")
	challenge, _ := base64.StdEncoding.DecodeString(thief.NextNamed("challenge").Text())
	final, err := conv.Step(string(challenge))
	if err != nil {
		t.Fatal(err)
	}

	// The server has read the old credentials; now the password changes.
	juliet.Result("set", "", "<query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query>")

	thief.Send("<response xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString([]byte(final)) + "</response>")
	if el := thief.Next(); el.Name.Local != "success" {
		t.Fatalf("got %s, want the old password's proof accepted by SCRAM", el)
	}
	thief.Open(xmpptest.Domain)
	thief.Features()
	thief.Send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>late</resource></bind></iq>")
	thief.ExpectStreamError("not-authorized")
	juliet.Ping()
}

// Nor may such a login take over a session by resuming it (XEP-0198):
// here the one session the password change kept, that of the client that
// changed it, whose connection is then lost.
func TestRevokedLoginCannotResume(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "old pass")
	juliet := xmpptest.LoginSM(t, s, "juliet", "old pass", "balcony")

	client, err := scram.SHA256.NewClient("juliet", "old pass", "")
	if err != nil {
		t.Fatal(err)
	}
	conv := client.NewConversation()
	first, _ := conv.Step("")
	thief, _ := encrypted(t, s)
	thief.Send("<auth xmlns='" + nsSASL + "' mechanism='SCRAM-SHA-256'>" + base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>")
	challenge, _ := base64.StdEncoding.DecodeString(thief.NextNamed("challenge").Text())
	final, err := conv.Step(string(challenge))
	if err != nil {
		t.Fatal(err)
	}

	juliet.Send("<iq type='set' id='pw'><query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query></iq>")
	if el := juliet.Next(); el.Attr("type") != "result" {
		t.Fatalf("password change: %s", el)
	}
	juliet.C.Conn.Close()

	thief.Send("<response xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString([]byte(final)) + "</response>")
	if el := thief.Next(); el.Name.Local != "success" {
		t.Fatalf("got %s, want the old password's proof accepted by SCRAM", el)
	}
	thief.Open(xmpptest.Domain)
	thief.Features()
	thief.Send("<resume xmlns='urn:xmpp:sm:3' previd='" + juliet.ID + "' h='0'/>")
	thief.ExpectStreamError("not-authorized")

	again := xmpptest.DialFrom(t, "127.0.0.1", s.C2SAddr)
	again.Authenticated("juliet", "new pass")
	if el := again.Resume(juliet.ID, juliet.H); el.Name.Local != "resumed" {
		t.Fatalf("resumption with the new password: got %s", el)
	}
}

// Nor is such a login bound by a Bind 2 request (XEP-0386): the client
// gets no <success/> with <bound/> and the account's archive metadata,
// only the stream error.
func TestRevokedLoginGetsNoBind2(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "old pass")
	juliet := xmpptest.Login(t, s, "juliet", "old pass", "balcony")

	client, err := scram.SHA256.NewClient("juliet", "old pass", "")
	if err != nil {
		t.Fatal(err)
	}
	conv := client.NewConversation()
	first, _ := conv.Step("")
	thief, _ := encrypted(t, s)
	thief.Send("<authenticate xmlns='" + nsSASL2 + "' mechanism='SCRAM-SHA-256'><initial-response>" +
		base64.StdEncoding.EncodeToString([]byte(first)) + "</initial-response>" + bindRequest("") + "</authenticate>")
	challenge, _ := base64.StdEncoding.DecodeString(thief.NextNamed("challenge").Text())
	final, err := conv.Step(string(challenge))
	if err != nil {
		t.Fatal(err)
	}

	juliet.Result("set", "", "<query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query>")

	thief.Send("<response xmlns='" + nsSASL2 + "'>" + base64.StdEncoding.EncodeToString([]byte(final)) + "</response>")
	thief.ExpectStreamError("not-authorized")
	juliet.Ping()
}
