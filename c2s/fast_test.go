package c2s_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const nsFast = "urn:xmpp:fast:0"

// requestToken asks for a FAST token bound to mech.
func requestToken(mech string) string {
	return "<request-token xmlns='" + nsFast + "' mechanism='" + mech + "'/>"
}

// htMAC is the HT mechanism's HMAC-SHA-256 keyed with token over label ‖ cb.
func htMAC(token, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}

// fastLogin opens a stream and logs in as user with token and the HT
// mechanism mech, with extra in <authenticate/> after the user agent; it
// returns the answer, having checked a success's responder message.
// loopbacks numbers the addresses fastLogin dials from.
var loopbacks atomic.Int32

func fastLogin(t *testing.T, s *xmpptest.Server, mech, user, token, extra string) (*xmpptest.Client, *xmlstream.Element) {
	t.Helper()
	// Each from an address of its own: the failures this test provokes
	// would otherwise wait longer and longer (the auth throttle).
	c, _ := encryptedFrom(t, s, xmpptest.DialFrom(t, fmt.Sprintf("127.0.9.%d", loopbacks.Add(1)), s.C2SAddr))
	cs := c.Conn.(*tls.Conn).ConnectionState()
	var cb []byte
	switch mech {
	case "HT-SHA-256-EXPR":
		b, err := scram.NewTLSExporterBinding(&cs)
		if err != nil {
			t.Fatal(err)
		}
		cb = b.Data
	case "HT-SHA-256-ENDP":
		b, err := scram.NewTLSServerEndpointBinding(&cs)
		if err != nil {
			t.Fatal(err)
		}
		cb = b.Data
	}
	response := base64.StdEncoding.EncodeToString(append([]byte(user+"\x00"), htMAC(token, "Initiator", cb)...))
	c.Send("<authenticate xmlns='" + nsSASL2 + "' mechanism='" + mech + "'><initial-response>" + response +
		"</initial-response>" + extra + "</authenticate>")
	el := c.Next()
	if el.Name.Local == "success" {
		data, err := base64.StdEncoding.DecodeString(el.Child(nsSASL2, "additional-data").Text())
		if err != nil || !hmac.Equal(data, htMAC(token, "Responder", cb)) {
			t.Fatalf("success %s: the responder message is not the token's", el)
		}
	}
	return c, el
}

// token returns the FAST token in success, or "" if it has none, after
// checking its expiry (three weeks ahead).
func token(t *testing.T, success *xmlstream.Element) string {
	t.Helper()
	tok := success.Child(nsFast, "token")
	if tok == nil {
		return ""
	}
	expiry, err := time.Parse(time.RFC3339, tok.Attr("expiry"))
	if err != nil || time.Until(expiry) < 20*24*time.Hour || tok.Attr("token") == "" {
		t.Fatalf("token %s, want one with an expiry three weeks ahead", tok)
	}
	return tok.Attr("token")
}

// failure returns the condition of a SASL2 failure, or fails.
func failure(t *testing.T, el *xmlstream.Element) string {
	t.Helper()
	if el.Name.Space != nsSASL2 || el.Name.Local != "failure" || el.FirstChildElement() == nil {
		t.Fatalf("got %s, want a SASL2 failure", el)
	}
	return el.FirstChildElement().Name.Local
}

// TestFastFeature: FAST is offered inside SASL2 with the HT mechanisms
// of the connection's channel bindings, and not as a mechanism of its own.
func TestFastFeature(t *testing.T) {
	s := xmpptest.Start(t)
	_, f := encrypted(t, s)
	fast := f.Child(nsSASL2, "authentication").Child(nsSASL2, "inline").Child(nsFast, "fast")
	if fast == nil {
		t.Fatalf("features %s, want FAST inside SASL2", f)
	}
	var mechs []string
	for _, m := range fast.ChildElements() {
		mechs = append(mechs, m.Text())
	}
	if got := strings.Join(mechs, " "); got != "HT-SHA-256-EXPR HT-SHA-256-ENDP HT-SHA-256-NONE" {
		t.Errorf("FAST mechanisms %q", got)
	}
	if slices.ContainsFunc(mechanisms(f), func(m string) bool { return strings.HasPrefix(m, "HT-") }) {
		t.Errorf("SASL mechanisms %q offer HT outside FAST", mechanisms(f))
	}
}

// TestFastLogin follows one client's tokens: one asked for at a password
// login logs in and binds with the same mechanism only, from the same
// client only; a token asked for at a token login replaces the old one
// once used; an invalidated token, and every token after a password
// change, no longer logs in.
func TestFastLogin(t *testing.T) {
	t.Parallel() // it waits for failure delays
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	const mech = "HT-SHA-256-EXPR"
	j, _ := encrypted(t, s)
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", bindRequest("")+requestToken(mech))
	first := token(t, success)
	if success.Name.Local != "success" || first == "" {
		t.Fatalf("got %s, want success with a token", success)
	}

	// The token logs in, binds, and the session works.
	c, success := fastLogin(t, s, mech, "juliet", first, bindRequest("")+"<fast xmlns='"+nsFast+"'/>")
	full := success.Child(nsSASL2, "authorization-identifier").Text()
	if success.Name.Local != "success" || !strings.HasPrefix(full, "juliet@localhost/Test/") || success.Child(nsBind2, "bound") == nil {
		t.Fatalf("got %s, want success bound as juliet@localhost/Test/...", success)
	}
	if token(t, success) != "" {
		t.Fatalf("success %s: a new token, unasked and not due", success)
	}
	c.Next() // features
	c.JID = full
	c.Ping()

	// Each failure waits for the server's failure delay. The auth
	// package's tests try every way a token login fails.
	if _, el := fastLogin(t, s, "HT-SHA-256-NONE", "juliet", first, agent); failure(t, el) != "not-authorized" {
		t.Fatalf("the token with another mechanism: %s", el)
	}

	// A new token at a token login: the old one works until it is used.
	_, success = fastLogin(t, s, mech, "juliet", first, agent+requestToken("HT-SHA-256-NONE"))
	second := token(t, success)
	if second == "" || second == first {
		t.Fatalf("got %s, want success with a new token", success)
	}
	if _, el := fastLogin(t, s, mech, "juliet", first, "<user-agent id='another'/>"); failure(t, el) != "not-authorized" {
		t.Fatalf("the token from another client: %s", el)
	}
	if _, el := fastLogin(t, s, mech, "juliet", first, agent); el.Name.Local != "success" {
		t.Fatalf("the token in use, before its successor is used: %s", el)
	}
	if _, el := fastLogin(t, s, "HT-SHA-256-NONE", "juliet", second, agent); el.Name.Local != "success" {
		t.Fatalf("the new token: %s", el)
	}
	if _, el := fastLogin(t, s, mech, "juliet", first, agent); failure(t, el) != "not-authorized" {
		t.Fatalf("the replaced token: %s", el)
	}

	// invalidate='true' logs in once more, without a new token.
	_, success = fastLogin(t, s, "HT-SHA-256-NONE", "juliet", second, agent+"<fast xmlns='"+nsFast+"' invalidate='true'/>")
	if success.Name.Local != "success" || token(t, success) != "" {
		t.Fatalf("invalidating: got %s, want success without a token", success)
	}
	if _, el := fastLogin(t, s, "HT-SHA-256-NONE", "juliet", second, agent); failure(t, el) != "not-authorized" {
		t.Fatalf("the invalidated token: %s", el)
	}

	// A new password ends every token.
	j, _ = encrypted(t, s)
	third := token(t, j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", bindRequest("")+requestToken(mech)))
	j.Next() // features
	j.JID = "juliet@localhost"
	j.Send("<iq type='set' id='pw' to='localhost'><query xmlns='jabber:iq:register'><username>juliet</username><password>new</password></query></iq>")
	if r := j.NextNamed("iq"); r.Attr("type") != "result" {
		t.Fatalf("password change: %s", r)
	}
	if _, el := fastLogin(t, s, mech, "juliet", third, agent); failure(t, el) != "not-authorized" {
		t.Fatalf("a token after a password change: %s", el)
	}
	// A PLAIN login gets a token too: it proved the new password.
	j, _ = encrypted(t, s)
	j.Send("<authenticate xmlns='" + nsSASL2 + "' mechanism='PLAIN'><initial-response>" +
		base64.StdEncoding.EncodeToString([]byte("\x00juliet\x00new")) + "</initial-response>" + bindRequest("") + requestToken(mech) + "</authenticate>")
	if el := j.Next(); token(t, el) == "" {
		t.Fatalf("got %s, want success with a token", el)
	}
}

// TestFastBadInput: a token login whose response is not base64, or not a
// username and an HMAC, fails with the SASL condition and the stream
// goes on: a password login on it then succeeds.
func TestFastBadInput(t *testing.T) {
	t.Parallel() // it waits for a failure delay
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	c, _ := encrypted(t, s)
	for _, tc := range []struct{ response, want string }{
		{"not base64!", "incorrect-encoding"},
		{base64.StdEncoding.EncodeToString([]byte("juliet")), "malformed-request"},
	} {
		c.Send("<authenticate xmlns='" + nsSASL2 + "' mechanism='HT-SHA-256-NONE'><initial-response>" + tc.response +
			"</initial-response>" + agent + "</authenticate>")
		if el := c.Next(); failure(t, el) != tc.want {
			t.Errorf("response %q: got %s, want %s", tc.response, el, tc.want)
		}
	}
	if el := c.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", bindRequest("")); el.Name.Local != "success" {
		t.Fatalf("a password login after the failures: %s", el)
	}
}

// TestFastInvalidateRequestToken: a client that invalidates its token
// and requests a new one at the same login (XEP-0484 §3.6) gets the new
// one, which logs in, while the invalidated one no longer does.
func TestFastInvalidateRequestToken(t *testing.T) {
	t.Parallel() // it waits for a failure delay
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	const mech = "HT-SHA-256-NONE"
	j, _ := encrypted(t, s)
	old := token(t, j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", agent+requestToken(mech)))
	if old == "" {
		t.Fatal("no token at the password login")
	}
	_, success := fastLogin(t, s, mech, "juliet", old, agent+"<fast xmlns='"+nsFast+"' invalidate='true'/>"+requestToken(mech))
	replacement := token(t, success)
	if success.Name.Local != "success" || replacement == "" || replacement == old {
		t.Fatalf("invalidating with a token request: got %s, want success with a new token", success)
	}
	if _, el := fastLogin(t, s, mech, "juliet", old, agent); failure(t, el) != "not-authorized" {
		t.Fatalf("the invalidated token: %s", el)
	}
	if _, el := fastLogin(t, s, mech, "juliet", replacement, agent); el.Name.Local != "success" {
		t.Fatalf("the new token: %s", el)
	}
}
