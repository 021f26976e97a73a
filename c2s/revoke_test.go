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

	thief, final := staleLogin(t, s, false)

	// The server has read the old credentials; now the password changes.
	juliet.Result("set", "", "<query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query>")

	final()
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

	thief, final := staleLogin(t, s, false)

	juliet.Send("<iq type='set' id='pw'><query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query></iq>")
	if el := juliet.Next(); el.Attr("type") != "result" {
		t.Fatalf("password change: %s", el)
	}
	juliet.C.Conn.Close()

	final()
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

	thief, final := staleLogin(t, s, true)

	juliet.Result("set", "", "<query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query>")

	final()
	thief.ExpectStreamError("not-authorized")
	juliet.Ping()
}

// staleLogin starts juliet's SCRAM-SHA-256 login with password "old
// pass" on a new stream, SASL2 if sasl2 says so (with Bind 2), up to the
// server's challenge: the server has read the credentials. final sends
// the client's last message, whose proof the server will accept.
func staleLogin(t *testing.T, s *xmpptest.Server, sasl2 bool) (thief *xmpptest.Client, final func()) {
	t.Helper()
	client, err := scram.SHA256.NewClient("juliet", "old pass", "")
	if err != nil {
		t.Fatal(err)
	}
	conv := client.NewConversation()
	first, _ := conv.Step("")
	initial := base64.StdEncoding.EncodeToString([]byte(first))
	ns := nsSASL
	thief, _ = encrypted(t, s)
	if sasl2 {
		ns = nsSASL2
		thief.Send("<authenticate xmlns='" + ns + "' mechanism='SCRAM-SHA-256'><initial-response>" + initial + "</initial-response>" + bindRequest("") + "</authenticate>")
	} else {
		thief.Send("<auth xmlns='" + ns + "' mechanism='SCRAM-SHA-256'>" + initial + "</auth>")
	}
	challenge, _ := base64.StdEncoding.DecodeString(thief.NextNamed("challenge").Text())
	last, err := conv.Step(string(challenge))
	if err != nil {
		t.Fatal(err)
	}
	return thief, func() {
		thief.Send("<response xmlns='" + ns + "'>" + base64.StdEncoding.EncodeToString([]byte(last)) + "</response>")
	}
}
