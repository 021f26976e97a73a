package register_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/register"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

// connect opens a stream, negotiates STARTTLS and returns the client with
// the features offered after it.
func connect(t *testing.T, s *xmpptest.Server) (*xmpptest.Client, *xmlstream.Element) {
	t.Helper()
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	c.Features()
	c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, tls.VersionTLS13))
	return c, c.Features()
}

// ask sends an IQ and returns the answer, checking its id.
func ask(t *testing.T, c *xmpptest.Client, iq string) *xmlstream.Element {
	t.Helper()
	c.Send(iq)
	el := c.NextNamed("iq")
	sent, err := xmlstream.ParseElement([]byte(iq), xmlstream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 16})
	if err != nil {
		t.Fatalf("test IQ %s: %v", iq, err)
	}
	if want := sent.Attr("id"); el.Attr("id") != want {
		t.Fatalf("got %s, want the answer to id %s", el, want)
	}
	return el
}

// expectResult checks that el is an IQ result.
func expectResult(t *testing.T, el *xmlstream.Element) {
	t.Helper()
	if el.Attr("type") != "result" {
		t.Fatalf("got %s, want a result", el)
	}
}

// expectError checks that el is an IQ error with condition, and that it
// does not echo a password.
func expectError(t *testing.T, el *xmlstream.Element, condition string) {
	t.Helper()
	e := el.Child("", "error")
	if el.Attr("type") != "error" || e == nil || e.Child(nsStanzas, condition) == nil {
		t.Fatalf("got %s, want error %s", el, condition)
	}
	if el.Child(register.NS, "query") != nil {
		t.Errorf("the error echoes the request: %s", el)
	}
}

func registerIQ(id, user, password string) string {
	return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:register'><username>" + user +
		"</username><password>" + password + "</password></query></iq>"
}

// loginResult authenticates with SCRAM-SHA-256 and returns <success/> or
// <failure/>.
func loginResult(t *testing.T, s *xmpptest.Server, user, password string) string {
	t.Helper()
	c, _ := connect(t, s)
	return c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, user, password).Name.Local
}

func enabled(cfg *config.Config) { cfg.Registration.Enabled = true }

// Juliet fetches the form, registers, and logs in with the new account;
// Romeo cannot take her name, and bad forms are refused.
func TestRegister(t *testing.T) {
	s := xmpptest.Start(t, enabled)
	c, f := connect(t, s)
	if f.Child(register.NSFeature, "register") == nil {
		t.Fatalf("no registration feature after STARTTLS: %s", f)
	}

	form := ask(t, c, "<iq type='get' id='reg1' to='localhost'><query xmlns='jabber:iq:register'/></iq>")
	expectResult(t, form)
	q := form.Child(register.NS, "query")
	if q == nil || q.Child(register.NS, "username") == nil || q.Child(register.NS, "password") == nil || q.Child(register.NS, "instructions") == nil {
		t.Fatalf("form = %s", form)
	}
	if q.Child(register.NSData, "x") != nil {
		t.Errorf("a data form without invitations: %s", form)
	}

	expectResult(t, ask(t, c, registerIQ("reg2", "Juliet", "balcony")))
	expectError(t, ask(t, c, registerIQ("reg3", "juliet", "other")), "conflict")
	expectError(t, ask(t, c, registerIQ("reg4", "ju liet@x", "pw")), "jid-malformed")
	expectError(t, ask(t, c, registerIQ("reg5", "romeo", "")), "not-acceptable")
	expectError(t, ask(t, c, "<iq type='set' id='reg6'><query xmlns='jabber:iq:register'><username>romeo</username></query></iq>"), "not-acceptable")
	expectError(t, ask(t, c, "<iq type='set' id='reg7'><query xmlns='jabber:iq:register'><remove/></query></iq>"), "unexpected-request")

	// The username was normalised as a localpart (lower case).
	juliet := xmpptest.Login(t, s, "juliet", "balcony", "balcony")
	if juliet.JID != "juliet@localhost/balcony" {
		t.Fatalf("bound %s", juliet.JID)
	}
	info := ask(t, juliet, "<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	announced := false
	for _, f := range info.Child("", "query").ChildElements() {
		announced = announced || f.Attr("var") == register.NS
	}
	if !announced {
		t.Errorf("disco#info lacks jabber:iq:register: %s", info)
	}
	// Logged in, she is told she is registered.
	got := ask(t, juliet, "<iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>")
	expectResult(t, got)
	if q := got.Child(register.NS, "query"); q == nil || q.Child(register.NS, "registered") == nil || q.Child(register.NS, "username").Text() != "juliet" {
		t.Errorf("registered query = %s", got)
	}
}

// With registration off there is no feature, and a registration IQ before
// authentication is service-unavailable, as XEP-0077 §3.1 requires of a
// host without in-band registration; the stream goes on, and nothing is
// registered.
func TestRegistrationOff(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "balcony")
	c, f := connect(t, s)
	if f.Child(register.NSFeature, "register") != nil {
		t.Fatalf("registration feature offered although off: %s", f)
	}
	expectError(t, ask(t, c, "<iq type='get' id='reg1'><query xmlns='jabber:iq:register'/></iq>"), "service-unavailable")
	expectError(t, ask(t, c, registerIQ("reg2", "romeo", "pw")), "service-unavailable")
	if ok, err := s.Accounts.Exists(context.Background(), xmpptest.Domain, "romeo"); ok || err != nil {
		t.Errorf("account registered although registration is off: %v, %v", ok, err)
	}
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "balcony"); el.Name.Local != "success" {
		t.Errorf("login after the refused registration: %s", el)
	}
	// Other stanzas before authentication still end the stream.
	c2, _ := connect(t, s)
	c2.Send("<iq type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>")
	c2.ExpectStreamError("not-authorized")
}

// Registration needs TLS when TLS is required: no feature before STARTTLS.
func TestNoRegistrationBeforeTLS(t *testing.T) {
	s := xmpptest.Start(t, enabled)
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	if f := c.Features(); f.Child(register.NSFeature, "register") != nil {
		t.Fatalf("registration offered before TLS: %s", f)
	}
	c.Send(registerIQ("reg1", "eve", "pw"))
	c.ExpectStreamError("not-authorized")
}

func invites(t *testing.T, s *xmpptest.Server) *postgres.Invites {
	pool, err := storage.Open(context.Background(), s.Config.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return postgres.NewInvites(pool)
}

func formIQ(id, user, password, token string) string {
	return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>jabber:iq:register</value></field>" +
		"<field var='username'><value>" + user + "</value></field>" +
		"<field var='password'><value>" + password + "</value></field>" +
		"<field var='token'><value>" + token + "</value></field></x></query></iq>"
}

// On an invitation-only server a token is needed, works once, and not
// after it expired.
func TestInviteOnly(t *testing.T) {
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.RequireInvite = true
	})
	inv := invites(t, s)
	ctx := context.Background()
	fresh, err := inv.Create(ctx, xmpptest.Domain, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := inv.Create(ctx, xmpptest.Domain, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	other, err := inv.Create(ctx, xmpptest.OtherDomain, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	c, _ := connect(t, s)
	form := ask(t, c, "<iq type='get' id='reg1'><query xmlns='jabber:iq:register'/></iq>")
	x := form.Child(register.NS, "query").Child(register.NSData, "x")
	if x == nil || !strings.Contains(x.String(), "token") {
		t.Fatalf("no token field in the form: %s", form)
	}

	expectError(t, ask(t, c, registerIQ("reg2", "juliet", "balcony")), "forbidden")
	expectError(t, ask(t, c, formIQ("reg3", "juliet", "balcony", "NOSUCHTOKEN")), "forbidden")
	expectError(t, ask(t, c, formIQ("reg4", "juliet", "balcony", expired.Token)), "forbidden")
	expectError(t, ask(t, c, formIQ("reg5", "juliet", "balcony", other.Token)), "forbidden")
	expectResult(t, ask(t, c, formIQ("reg6", "juliet", "balcony", fresh.Token)))
	// Used: not even for another name. A plain <token/> field works too.
	expectError(t, ask(t, c, "<iq type='set' id='reg7'><query xmlns='jabber:iq:register'><username>romeo</username><password>x</password><token>"+fresh.Token+"</token></query></iq>"), "forbidden")

	// A conflict does not use up a token.
	second, _ := inv.Create(ctx, xmpptest.Domain, time.Now().Add(time.Hour))
	expectError(t, ask(t, c, formIQ("reg8", "juliet", "x", second.Token)), "conflict")
	expectResult(t, ask(t, c, "<iq type='set' id='reg9'><query xmlns='jabber:iq:register'><username>romeo</username><password>x</password><token>"+second.Token+"</token></query></iq>"))

	xmpptest.Login(t, s, "juliet", "balcony", "phone")
	list, err := inv.List(ctx, xmpptest.Domain)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{}
	for _, i := range list {
		used[i.Token] = i.UsedBy
	}
	if used[fresh.Token] != "juliet" || used[second.Token] != "romeo" || used[expired.Token] != "" {
		t.Errorf("invites after registration: %+v", list)
	}
}

// The N+1-th registration from one address within an hour is refused;
// failed attempts do not count.
func TestPerAddressLimit(t *testing.T) {
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.PerAddressPerHour = 2
	})
	c, _ := connect(t, s)
	expectResult(t, ask(t, c, registerIQ("a", "one", "pw")))
	expectError(t, ask(t, c, registerIQ("b", "one", "pw")), "conflict")
	// A new connection from the same address shares the allowance.
	c2, _ := connect(t, s)
	expectResult(t, ask(t, c2, registerIQ("c", "two", "pw")))
	expectError(t, ask(t, c2, registerIQ("d", "three", "pw")), "resource-constraint")
	if ok, _ := s.Accounts.Exists(context.Background(), xmpptest.Domain, "three"); ok {
		t.Error("the refused account exists")
	}
}

// Juliet changes her password: the new one works, the old one not.
func TestPasswordChange(t *testing.T) {
	s := xmpptest.Start(t) // works with registration off
	s.AddUser(t, "juliet", xmpptest.Domain, "old pass")
	s.AddUser(t, "romeo", xmpptest.Domain, "romeo")
	juliet := xmpptest.Login(t, s, "juliet", "old pass", "balcony")
	// Who else logged in with the old password is out, bound or not.
	thief := xmpptest.Login(t, s, "juliet", "old pass", "thief")
	binding := xmpptest.Dial(t, s.C2SAddr)
	binding.Authenticated("juliet", "old pass")

	expectError(t, ask(t, juliet, registerIQ("p1", "romeo", "mine now")), "forbidden")
	expectError(t, ask(t, juliet, "<iq type='set' id='p2' to='romeo@localhost'><query xmlns='jabber:iq:register'><remove/></query></iq>"), "forbidden")
	expectError(t, ask(t, juliet, "<iq type='set' id='p3' to='example.test'><query xmlns='jabber:iq:register'><remove/></query></iq>"), "forbidden")
	expectError(t, ask(t, juliet, registerIQ("p4", "juliet", "")), "bad-request")
	expectResult(t, ask(t, juliet, "<iq type='set' id='p5' to='localhost'><query xmlns='jabber:iq:register'><username>juliet</username><password>new pass</password></query></iq>"))
	thief.ExpectStreamError("reset")
	binding.Send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>late</resource></bind></iq>")
	binding.ExpectStreamError("not-authorized")
	juliet.Ping() // the session that changed it stays

	if got := loginResult(t, s, "juliet", "old pass"); got != "failure" {
		t.Errorf("login with the old password: %s", got)
	}
	if got := loginResult(t, s, "juliet", "new pass"); got != "success" {
		t.Errorf("login with the new password: %s", got)
	}
	if got := loginResult(t, s, "romeo", "romeo"); got != "success" {
		t.Errorf("romeo's password changed: %s", got)
	}
}

// Juliet removes her account: she gets the result, then every session of
// hers ends with <not-authorized/>; the account and its credentials are
// gone, and nobody else is touched.
func TestRemoveAccount(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "balcony")
	s.AddUser(t, "romeo", xmpptest.Domain, "romeo")
	phone := xmpptest.Login(t, s, "juliet", "balcony", "phone")
	laptop := xmpptest.Login(t, s, "juliet", "balcony", "laptop")
	romeo := xmpptest.Login(t, s, "romeo", "romeo", "home")
	binding := xmpptest.Dial(t, s.C2SAddr) // logged in, not yet bound
	binding.Authenticated("juliet", "balcony")

	expectError(t, ask(t, phone, "<iq type='set' id='u0'><query xmlns='jabber:iq:register'><remove/><username>juliet</username></query></iq>"), "bad-request")
	expectResult(t, ask(t, phone, "<iq type='set' id='u1'><query xmlns='jabber:iq:register'><remove/></query></iq>"))
	phone.ExpectStreamError("not-authorized")
	laptop.ExpectStreamError("not-authorized")
	binding.Send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>ghost</resource></bind></iq>")
	binding.ExpectStreamError("not-authorized")
	romeo.Ping()

	ctx := context.Background()
	if ok, err := s.Accounts.Exists(ctx, xmpptest.Domain, "juliet"); ok || err != nil {
		t.Errorf("account exists after removal: %v, %v", ok, err)
	}
	if _, err := s.Accounts.Credentials(ctx, xmpptest.Domain, "juliet"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("credentials after removal: %v", err)
	}
	if got := loginResult(t, s, "juliet", "balcony"); got != "failure" {
		t.Errorf("login after removal: %s", got)
	}
}

// RFC 6121 §3 on account deletion: the contacts are unsubscribed, so an
// online contact hears it and its roster no longer grants anything.
func TestRemoveAccountTellsContacts(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "balcony")
	s.AddUser(t, "romeo", xmpptest.Domain, "romeo")
	juliet := xmpptest.Login(t, s, "juliet", "balcony", "phone")
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "romeo", "home")
	romeo.Online()

	juliet.Send("<presence to='romeo@localhost' type='subscribe'/>")
	if p := romeo.NextNamed("presence"); p.Attr("type") != "subscribe" || p.Attr("from") != "juliet@localhost" {
		t.Fatalf("romeo got %s, want juliet's subscription request", p)
	}
	romeo.Send("<presence to='juliet@localhost' type='subscribed'/>")
	if p := juliet.NextNamed("presence"); p.Attr("type") != "subscribed" {
		t.Fatalf("juliet got %s, want subscribed", p)
	}
	juliet.ExpectPresenceFrom("romeo@localhost/home") // romeo's presence, now that she may see it

	juliet.Send("<iq type='set' id='u1'><query xmlns='jabber:iq:register'><remove/></query></iq>")
	for {
		// Presence from romeo's side of the unsubscription may come first.
		if el := juliet.Next(); el.Name.Local == "iq" {
			expectResult(t, el)
			break
		}
	}
	seen := map[string]bool{}
	for !seen["unsubscribe"] {
		p := romeo.NextNamed("presence")
		if p.Attr("from") != "juliet@localhost" {
			t.Fatalf("romeo got %s, want presence from juliet's bare JID", p)
		}
		seen[p.Attr("type")] = true
	}
	romeo.Send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	roster := romeo.NextNamed("iq").Child("jabber:iq:roster", "query")
	for _, item := range roster.ChildElements() {
		if item.Attr("jid") == "juliet@localhost" && item.Attr("subscription") != "none" {
			t.Errorf("romeo's roster still grants juliet: %s", item)
		}
	}
}

// A submitted cancellation form (FORM_TYPE jabber:iq:register:cancel)
// asks for the account's removal as <remove/> does (XEP-0077 §3.2); its
// password field confirms, and never becomes the account's password.
func TestRemoveAccountWithForm(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "balcony")
	phone := xmpptest.Login(t, s, "juliet", "balcony", "phone")

	expectResult(t, ask(t, phone, "<iq type='set' id='u1'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>"+
		"<field var='FORM_TYPE'><value>jabber:iq:register:cancel</value></field>"+
		"<field var='username'><value>juliet</value></field>"+
		"<field var='password'><value>typo</value></field></x></query></iq>"))
	if ok, err := s.Accounts.Exists(context.Background(), xmpptest.Domain, "juliet"); ok || err != nil {
		t.Fatalf("account exists after its cancellation form: %v, %v", ok, err)
	}
	phone.ExpectStreamError("not-authorized")
	if got := loginResult(t, s, "juliet", "typo"); got != "failure" {
		t.Errorf("login with the cancellation form's password: %s", got)
	}
}

func changePasswordForm(id, user, old, password string) string {
	oldField := ""
	if old != "" {
		oldField = "<field var='old_password'><value>" + old + "</value></field>"
	}
	return "<iq type='set' id='" + id + "'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>jabber:iq:register:changepassword</value></field>" +
		"<field var='username'><value>" + user + "</value></field>" + oldField +
		"<field var='password'><value>" + password + "</value></field></x></query></iq>"
}

// A password change form that carries old_password (XEP-0077 §3.3) is
// refused with not-authorized when the old password is wrong, and
// changes nothing; with the right one it changes the password.
func TestPasswordChangeFormChecksOldPassword(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "old pass")
	juliet := xmpptest.Login(t, s, "juliet", "old pass", "balcony")

	expectError(t, ask(t, juliet, changePasswordForm("p1", "juliet", "wrong", "stolen")), "not-authorized")
	if got := loginResult(t, s, "juliet", "stolen"); got != "failure" {
		t.Errorf("login with the password of a form with a wrong old_password: %s", got)
	}
	if got := loginResult(t, s, "juliet", "old pass"); got != "success" {
		t.Errorf("login with the unchanged password: %s", got)
	}

	expectResult(t, ask(t, juliet, changePasswordForm("p2", "juliet", "old pass", "new pass")))
	if got := loginResult(t, s, "juliet", "new pass"); got != "success" {
		t.Errorf("login with the new password: %s", got)
	}
}

// A password change form sent before login is no registration: it is
// unexpected-request, as XEP-0077 §3.3 answers a password change from an
// entity not registered with the server, and creates no account.
func TestPasswordChangeFormBeforeLogin(t *testing.T) {
	s := xmpptest.Start(t, enabled)
	c, _ := connect(t, s)
	expectError(t, ask(t, c, changePasswordForm("p1", "juliet", "", "balcony")), "unexpected-request")
	expectError(t, ask(t, c, changePasswordForm("p2", "romeo", "old", "balcony")), "unexpected-request")
	for _, user := range []string{"juliet", "romeo"} {
		if ok, err := s.Accounts.Exists(context.Background(), xmpptest.Domain, user); ok || err != nil {
			t.Errorf("account %s after a password change form before login: %v, %v", user, ok, err)
		}
	}
}

// The XEP-0445 preauth IQ, which apps send when they open the invitation
// page's xmpp:host?register;preauth=TOKEN link, reaches the registrar on
// the stream: it attaches the token to the connection, and a plain
// registration that follows uses it.
func TestPreauthOnTheStream(t *testing.T) {
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.RequireInvite = true
	})
	inv, err := invites(t, s).Create(context.Background(), xmpptest.Domain, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s)
	expectError(t, ask(t, c, "<iq type='set' id='p0' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='WRONG'/></iq>"), "item-not-found")
	expectResult(t, ask(t, c, "<iq type='set' id='p1' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='"+inv.Token+"'/></iq>"))
	expectResult(t, ask(t, c, registerIQ("r1", "juliet", "balcony")))
	if got := loginResult(t, s, "juliet", "balcony"); got != "success" {
		t.Errorf("login after registering with a preauth token: %s", got)
	}
}

// A server that takes invitation tokens says so with the XEP-0445 stream
// feature, which apps look for before they send the preauth IQ (§3).
func TestPreauthStreamFeature(t *testing.T) {
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.RequireInvite = true
	})
	_, f := connect(t, s)
	if f.Child(register.NSFeature, "register") == nil || f.Child(register.NSTokenFeature, "register") == nil {
		t.Errorf("invitations required, features = %s", f)
	}
}
