package admin_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"xmppd/adhoc"
	"xmppd/config"
	"xmppd/dataform"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// start runs a server whose admin is boss, with the accounts boss,
// juliet and romeo, and logs boss in.
func start(t *testing.T) (*xmpptest.Server, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t, func(c *config.Config) { c.Admins = []string{"boss@localhost"} })
	for _, u := range []string{"boss", "juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, u+" pw")
	}
	boss := xmpptest.Login(t, s, "boss", "boss pw", "desk")
	return s, boss
}

// ask sends the IQ and returns the answer.
func ask(t *testing.T, c *xmpptest.Client, iq string) *xmlstream.Element {
	t.Helper()
	c.Send(iq)
	return c.NextNamed("iq")
}

// execute starts the command at node and returns its <command/>.
func execute(t *testing.T, c *xmpptest.Client, node string) *xmlstream.Element {
	t.Helper()
	res := ask(t, c, "<iq type='set' id='x' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"' action='execute'/></iq>")
	cmd := res.Child(adhoc.NS, "command")
	if res.Attr("type") != "result" || cmd == nil {
		t.Fatalf("executing %s: got %s", node, res)
	}
	return cmd
}

// submit submits the form of the session the executing cmd opened, with
// XEP-0133's FORM_TYPE and fields given as var, value pairs, and returns
// the answer.
func submit(t *testing.T, c *xmpptest.Client, cmd *xmlstream.Element, fields ...string) *xmlstream.Element {
	t.Helper()
	var b strings.Builder
	b.WriteString("<field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>")
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString("<field var='" + fields[i] + "'>")
		for _, v := range strings.Split(fields[i+1], "\n") {
			b.WriteString("<value>" + v + "</value>")
		}
		b.WriteString("</field>")
	}
	return submitFields(t, c, cmd, b.String())
}

// submitFields submits the form of the session the executing cmd opened
// with the given <field/> elements, and returns the answer.
func submitFields(t *testing.T, c *xmpptest.Client, cmd *xmlstream.Element, fields string) *xmlstream.Element {
	t.Helper()
	return ask(t, c, "<iq type='set' id='s' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+cmd.Attr("node")+
		"' sessionid='"+cmd.Attr("sessionid")+"' action='complete'><x xmlns='jabber:x:data' type='submit'>"+
		fields+"</x></command></iq>")
}

// completed checks that res completes its command and returns the note.
func completed(t *testing.T, res *xmlstream.Element) (note, noteType string, result dataform.Form) {
	t.Helper()
	cmd := res.Child(adhoc.NS, "command")
	if res.Attr("type") != "result" || cmd == nil || cmd.Attr("status") != "completed" {
		t.Fatalf("got %s, want a completed command", res)
	}
	if n := cmd.Child(adhoc.NS, "note"); n != nil {
		note, noteType = n.Text(), n.Attr("type")
	}
	if x := cmd.Child(dataform.NS, "x"); x != nil {
		result = dataform.Parse(x)
	}
	return note, noteType, result
}

func fieldValue(f dataform.Form, v string) string {
	fd, _ := f.Field(v)
	return strings.Join(fd.Values, " ")
}

const node = "http://jabber.org/protocol/admin#"

// TestCommandsForAdminsOnly: the admin discovers the commands, each a
// command node; anybody else sees none, and running one is forbidden
// (XEP-0050 §4.6), as a submission to a session an admin opened is.
func TestCommandsForAdminsOnly(t *testing.T) {
	s, boss := start(t)
	items := ask(t, boss, "<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='"+adhoc.NS+"'/></iq>")
	var nodes []string
	for _, it := range items.Child("http://jabber.org/protocol/disco#items", "query").ChildElements() {
		if it.Attr("jid") != "localhost" || it.Attr("name") == "" {
			t.Errorf("item %s: want the server's JID and a name", it)
		}
		nodes = append(nodes, strings.TrimPrefix(it.Attr("node"), node))
	}
	want := []string{"add-user", "delete-user", "end-user-session", "change-user-password",
		"get-registered-users-num", "get-online-users-num", "get-online-users-list", "announce", "set-motd", "delete-motd"}
	if !slices.Equal(nodes, want) {
		t.Fatalf("commands %q, want %q", nodes, want)
	}
	info := ask(t, boss, "<iq type='get' id='i' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='"+node+"add-user'/></iq>")
	q := info.Child("http://jabber.org/protocol/disco#info", "query")
	if id := q.Child("http://jabber.org/protocol/disco#info", "identity"); id == nil || id.Attr("category") != "automation" || id.Attr("type") != "command-node" {
		t.Fatalf("disco#info of add-user: %s", info)
	}
	features := ask(t, boss, "<iq type='get' id='f' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>").String()
	if !strings.Contains(features, "var='"+adhoc.NS+"'") {
		t.Fatalf("the server's features do not list ad-hoc commands: %s", features)
	}

	juliet := xmpptest.Login(t, s, "juliet", "juliet pw", "balcony")
	items = ask(t, juliet, "<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='"+adhoc.NS+"'/></iq>")
	if n := len(items.Child("http://jabber.org/protocol/disco#items", "query").ChildElements()); n != 0 {
		t.Fatalf("juliet sees %d commands: %s", n, items)
	}
	res := ask(t, juliet, "<iq type='set' id='x' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"add-user' action='execute'/></iq>")
	xmpptest.ExpectError(t, res, "forbidden")
	info = ask(t, juliet, "<iq type='get' id='i' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='"+node+"add-user'/></iq>")
	xmpptest.ExpectError(t, info, "item-not-found")
	cmd := execute(t, boss, node+"add-user")
	res = submit(t, juliet, cmd, "accountjid", "tybalt@localhost", "password", "t pw", "password-verify", "t pw")
	xmpptest.ExpectError(t, res, "forbidden")
	res = ask(t, boss, "<iq type='set' id='x' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"no-such-command' action='execute'/></iq>")
	xmpptest.ExpectError(t, res, "item-not-found")
}

// TestAccounts: the admin adds an account, changes its password, ends its
// session and deletes it; wrong input gets an error note.
func TestAccounts(t *testing.T) {
	s, boss := start(t)
	ctx := context.Background()

	cmd := execute(t, boss, node+"add-user")
	if cmd.Attr("status") != "executing" || cmd.Attr("sessionid") == "" {
		t.Fatalf("got %s, want a form to fill in", cmd)
	}
	form := dataform.Parse(cmd.Child(dataform.NS, "x"))
	if form.Type != "form" || form.FormType() != "http://jabber.org/protocol/admin" {
		t.Fatalf("form %+v", form)
	}
	for _, v := range []string{"accountjid", "password", "password-verify"} {
		if _, ok := form.Field(v); !ok {
			t.Errorf("the form has no %s", v)
		}
	}
	if note, typ, _ := completed(t, submit(t, boss, cmd, "accountjid", "mercutio@localhost", "password", "m pw", "password-verify", "m pw")); typ != "info" || !strings.Contains(note, "mercutio@localhost") {
		t.Fatalf("adding mercutio: note %q (%s)", note, typ)
	}
	xmpptest.Login(t, s, "mercutio", "m pw", "street").Ping()

	for _, tc := range []struct {
		name   string
		fields []string
		want   string
	}{
		{"an existing account", []string{"accountjid", "juliet@localhost", "password", "x", "password-verify", "x"}, "exists already"},
		{"another server's account", []string{"accountjid", "x@example.net", "password", "x", "password-verify", "x"}, "does not serve"},
		{"differing passwords", []string{"accountjid", "tybalt@localhost", "password", "x", "password-verify", "y"}, "differ"},
		{"not a JID", []string{"accountjid", "@@", "password", "x", "password-verify", "x"}, "not the address"},
	} {
		note, typ, _ := completed(t, submit(t, boss, execute(t, boss, node+"add-user"), tc.fields...))
		if typ != "error" || !strings.Contains(note, tc.want) {
			t.Errorf("%s: note %q (%s), want an error saying %q", tc.name, note, typ, tc.want)
		}
	}

	if note, typ, _ := completed(t, submit(t, boss, execute(t, boss, node+"change-user-password"), "accountjid", "mercutio@localhost", "password", "new pw")); typ != "info" {
		t.Fatalf("changing the password: %q (%s)", note, typ)
	}
	mercutio := xmpptest.Login(t, s, "mercutio", "new pw", "street")

	completed(t, submit(t, boss, execute(t, boss, node+"end-user-session"), "accountjids", "mercutio@localhost"))
	mercutio.ExpectStreamError("policy-violation")

	romeo := xmpptest.Login(t, s, "romeo", "romeo pw", "orchard")
	note, _, _ := completed(t, submit(t, boss, execute(t, boss, node+"delete-user"), "accountjids", "mercutio@localhost\nromeo@localhost\nnobody@localhost"))
	if !strings.Contains(note, "Deleted: mercutio@localhost, romeo@localhost.") || !strings.Contains(note, "No such account: nobody@localhost.") {
		t.Fatalf("deleting: note %q", note)
	}
	romeo.ExpectStreamError("not-authorized")
	for _, u := range []string{"mercutio", "romeo"} {
		if ok, err := s.Accounts.Exists(ctx, xmpptest.Domain, u); err != nil || ok {
			t.Errorf("%s exists after its deletion: %v, %v", u, ok, err)
		}
	}
}

// TestUsers: the counts and the list of users, and an announcement that
// reaches every online user.
func TestUsers(t *testing.T) {
	s, boss := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "juliet pw", "balcony")
	juliet.Online()

	if _, _, f := completed(t, ask(t, boss, "<iq type='set' id='n' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"get-registered-users-num' action='execute'/></iq>")); fieldValue(f, "registeredusersnum") != "3" {
		t.Errorf("registered users: %+v, want 3", f)
	}
	if _, _, f := completed(t, ask(t, boss, "<iq type='set' id='n' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"get-online-users-num'/></iq>")); fieldValue(f, "onlineusersnum") != "2" {
		t.Errorf("online users: %+v, want 2", f)
	}
	if _, _, f := completed(t, ask(t, boss, "<iq type='set' id='n' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"get-online-users-list'/></iq>")); fieldValue(f, "onlineuserjids") != "boss@localhost juliet@localhost" {
		t.Errorf("online users: %+v, want boss and juliet", f)
	}

	note, _, _ := completed(t, submit(t, boss, execute(t, boss, node+"announce"), "subject", "Maintenance", "announcement", "Back at noon.\nThanks."))
	if note != "Sent to 2 online users." {
		t.Errorf("announce: note %q", note)
	}
	m := juliet.NextNamed("message")
	if m.Attr("from") != "localhost" || m.Attr("type") != "headline" || m.Child("jabber:client", "subject").Text() != "Maintenance" ||
		m.Child("jabber:client", "body").Text() != "Back at noon.\nThanks." {
		t.Fatalf("juliet got %s, want the announcement", m)
	}
}

// TestCommandSessions: a canceled command's session has expired; a
// submission without a form, or with a session of another command, is a
// bad request with XEP-0050's condition, and no error echoes the form.
func TestCommandSessions(t *testing.T) {
	_, boss := start(t)
	cmd := execute(t, boss, node+"add-user")
	res := ask(t, boss, "<iq type='set' id='c' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"add-user' sessionid='"+cmd.Attr("sessionid")+"' action='cancel'/></iq>")
	if c := res.Child(adhoc.NS, "command"); c == nil || c.Attr("status") != "canceled" {
		t.Fatalf("canceling: got %s", res)
	}
	res = submit(t, boss, cmd, "accountjid", "tybalt@localhost", "password", "secret pw")
	if e := xmpptest.ExpectError(t, res, "not-allowed"); e.Child(adhoc.NS, "session-expired") == nil {
		t.Fatalf("a canceled session: got %s, want session-expired", res)
	}
	if strings.Contains(res.String(), "secret pw") {
		t.Fatalf("the error echoes the form: %s", res)
	}

	cmd = execute(t, boss, node+"add-user")
	res = ask(t, boss, "<iq type='set' id='s' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"add-user' sessionid='"+cmd.Attr("sessionid")+"' action='complete'/></iq>")
	if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, "bad-payload") == nil {
		t.Fatalf("no form: got %s, want bad-payload", res)
	}
	res = ask(t, boss, "<iq type='set' id='m' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"add-user' action='dance'/></iq>")
	if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, "malformed-action") == nil {
		t.Fatalf("an unknown action: got %s, want malformed-action", res)
	}
	cmd = execute(t, boss, node+"add-user")
	res = ask(t, boss, "<iq type='set' id='m' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"add-user' sessionid='"+cmd.Attr("sessionid")+"' action='prev'/></iq>")
	if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, "bad-action") == nil {
		t.Fatalf("prev in a one-stage command: got %s, want bad-action", res)
	}
	other := execute(t, boss, node+"add-user")
	res = ask(t, boss, "<iq type='set' id='s' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"delete-user' sessionid='"+other.Attr("sessionid")+"' action='complete'><x xmlns='jabber:x:data' type='submit'/></command></iq>")
	if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, "bad-sessionid") == nil {
		t.Fatalf("another command's session: got %s, want bad-sessionid", res)
	}
}

// TestMessageOfTheDay: the message the admin sets reaches each account
// once: at once when it is online (XEP-0133 §4.24), else after the
// initial presence of its next session; a new message reaches it again,
// a deleted one no more.
func TestMessageOfTheDay(t *testing.T) {
	s, boss := start(t)
	s.AddUser(t, "tybalt", xmpptest.Domain, "tybalt pw")
	login := func(user string) *xmpptest.Client {
		c := xmpptest.Login(t, s, user, user+" pw", "balcony")
		c.Online()
		return c
	}
	expectMOTD := func(c *xmpptest.Client, body string) {
		t.Helper()
		m := c.NextNamed("message")
		if m.Attr("from") != "localhost" || m.Attr("type") != "headline" || m.Child("jabber:client", "body").Text() != body {
			t.Fatalf("%s got %s, want the message of the day %q", c.JID, m, body)
		}
	}
	// noMOTD checks that nothing but the answer comes to c's ping: the
	// message of the day is sent before the session reads on.
	noMOTD := func(c *xmpptest.Client) {
		t.Helper()
		c.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		for el := c.Next(); el.Attr("id") != "barrier"; el = c.Next() {
			if el.Name.Local == "message" {
				t.Fatalf("%s got %s, want no message of the day", c.JID, el)
			}
		}
	}
	juliet := login("juliet")
	noMOTD(juliet) // none set

	completed(t, submit(t, boss, execute(t, boss, node+"set-motd"), "motd", "Maintenance at noon."))
	expectMOTD(juliet, "Maintenance at noon.")         // online: at once
	expectMOTD(login("romeo"), "Maintenance at noon.") // offline: at the next login
	juliet = login("juliet")
	noMOTD(juliet) // got it already

	completed(t, submit(t, boss, execute(t, boss, node+"set-motd"), "motd", "Back to normal."))
	expectMOTD(juliet, "Back to normal.")

	completed(t, ask(t, boss, "<iq type='set' id='d' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"delete-motd'/></iq>"))
	completed(t, submit(t, boss, execute(t, boss, node+"set-motd"), "motd", "Third."))
	completed(t, ask(t, boss, "<iq type='set' id='d' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"delete-motd'/></iq>"))
	noMOTD(login("tybalt")) // deleted before tybalt came
}

// TestEndOneSession: a full JID in end-user-session ends that session
// only; the account's other sessions stay (XEP-0133 §4.5).
func TestEndOneSession(t *testing.T) {
	s, boss := start(t)
	balcony := xmpptest.Login(t, s, "juliet", "juliet pw", "balcony")
	phone := xmpptest.Login(t, s, "juliet", "juliet pw", "phone")

	note, typ, _ := completed(t, submit(t, boss, execute(t, boss, node+"end-user-session"), "accountjids", "juliet@localhost/balcony"))
	if typ != "info" || !strings.Contains(note, "juliet@localhost/balcony") {
		t.Fatalf("ending juliet's balcony session: note %q (%s)", note, typ)
	}
	balcony.ExpectStreamError("policy-violation")
	phone.Ping()
	xmpptest.Login(t, s, "juliet", "juliet pw", "balcony").Ping()
}

// TestRejectedRequestKeepsSession: a request the session's stage cannot
// take, such as prev in a one-stage command or a submission without a
// form, is refused (XEP-0050 §4.6) and leaves the session waiting, so
// the admin can still submit the form.
func TestRejectedRequestKeepsSession(t *testing.T) {
	s, boss := start(t)
	cmd := execute(t, boss, node+"add-user")
	for _, tc := range []struct{ action, payload, specific string }{
		{"prev", "", "bad-action"},
		{"complete", "", "bad-payload"},
		{"complete", "<x xmlns='jabber:x:data' type='form'/>", "bad-payload"},
	} {
		res := ask(t, boss, "<iq type='set' id='r' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"add-user' sessionid='"+
			cmd.Attr("sessionid")+"' action='"+tc.action+"'>"+tc.payload+"</command></iq>")
		if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, tc.specific) == nil {
			t.Errorf("action %s with %q: got %s, want %s", tc.action, tc.payload, res, tc.specific)
		}
	}
	if note, typ, _ := completed(t, submit(t, boss, cmd, "accountjid", "tybalt@localhost", "password", "t pw", "password-verify", "t pw")); typ != "info" {
		t.Fatalf("submitting after the refused requests: note %q (%s)", note, typ)
	}
	xmpptest.Login(t, s, "tybalt", "t pw", "street").Ping()
}

// TestCommandActionErrors: an action XEP-0050 does not define is
// malformed-action, with or without a session; one it defines but the
// stage does not offer is bad-action (XEP-0050 §4.6).
func TestCommandActionErrors(t *testing.T) {
	_, boss := start(t)
	cmd := execute(t, boss, node+"add-user")
	for _, tc := range []struct{ session, action, specific string }{
		{"", "dance", "malformed-action"},
		{cmd.Attr("sessionid"), "dance", "malformed-action"},
		{"", "complete", "bad-action"},
		{"", "cancel", "bad-action"},
		{"", "next", "bad-action"},
		{cmd.Attr("sessionid"), "next", "bad-action"},
	} {
		res := ask(t, boss, "<iq type='set' id='a' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"add-user' sessionid='"+
			tc.session+"' action='"+tc.action+"'/></iq>")
		if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, tc.specific) == nil {
			t.Errorf("action %s (session %q): got %s, want %s", tc.action, tc.session, res, tc.specific)
		}
	}
}

// TestAddUserNeedsPasswordVerify: add-user creates the account only when
// password-verify repeats the password (XEP-0133 §4.1); a missing or
// empty one is a required field not given, refused with bad-payload
// (XEP-0050 §4.6), and a differing one gets an error note.
func TestAddUserNeedsPasswordVerify(t *testing.T) {
	s, boss := start(t)
	const formType = "<field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>"
	for _, tc := range []struct{ name, user, fields string }{
		{"no password-verify", "tybalt", "<field var='password'><value>t pw</value></field>"},
		{"a password-verify without a value", "benvolio", "<field var='password'><value>b pw</value></field><field var='password-verify'/>"},
		{"an empty password-verify", "paris", "<field var='password'><value>p pw</value></field><field var='password-verify'><value/></field>"},
	} {
		res := submitFields(t, boss, execute(t, boss, node+"add-user"),
			formType+"<field var='accountjid'><value>"+tc.user+"@localhost</value></field>"+tc.fields)
		if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, "bad-payload") == nil {
			t.Errorf("%s: got %s, want bad-payload", tc.name, res)
		}
		if ok, err := s.Accounts.Exists(context.Background(), xmpptest.Domain, tc.user); ok || err != nil {
			t.Errorf("%s: account %s exists: %v, %v", tc.name, tc.user, ok, err)
		}
	}
	res := submitFields(t, boss, execute(t, boss, node+"add-user"), formType+"<field var='accountjid'><value>paris@localhost</value></field>"+
		"<field var='password'><value>p pw</value></field><field var='password-verify'><value>P pw</value></field>")
	if note, typ, _ := completed(t, res); typ != "error" || !strings.Contains(note, "differ") {
		t.Errorf("a differing password-verify: note %q (%s), want an error saying the passwords differ", note, typ)
	}
}

// TestRequiredFields: a submission that leaves out a required field of
// the command's form is refused with bad-payload (XEP-0050 §4.6) and runs
// nothing; the session still waits for the whole form.
func TestRequiredFields(t *testing.T) {
	s, boss := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "juliet pw", "balcony")
	cmd := execute(t, boss, node+"change-user-password")
	for _, fields := range []string{
		"<field var='accountjid'><value>juliet@localhost</value></field>",
		"<field var='password'><value>new pw</value></field>",
		"<field var='accountjid'><value>juliet@localhost</value></field><field var='password'/>",
	} {
		res := submitFields(t, boss, cmd, fields)
		if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, "bad-payload") == nil {
			t.Errorf("submitting %s: got %s, want bad-payload", fields, res)
		}
	}
	juliet.Ping() // her session was not ended by a password change
	if note, typ, _ := completed(t, submit(t, boss, cmd, "accountjid", "juliet@localhost", "password", "new pw")); typ != "info" {
		t.Fatalf("submitting the whole form: note %q (%s)", note, typ)
	}
	xmpptest.Login(t, s, "juliet", "new pw", "phone").Ping()
}

// TestFormType: a submitted form of another FORM_TYPE than XEP-0133's is
// refused with an error note and runs nothing (XEP-0133 §3); one without
// a FORM_TYPE is taken, as clients that drop hidden fields send it.
func TestFormType(t *testing.T) {
	s, boss := start(t)
	const fields = "<field var='password'><value>pw</value></field><field var='password-verify'><value>pw</value></field>"
	res := submitFields(t, boss, execute(t, boss, node+"add-user"),
		"<field var='FORM_TYPE'><value>jabber:iq:register</value></field><field var='accountjid'><value>tybalt@localhost</value></field>"+fields)
	if note, typ, _ := completed(t, res); typ != "error" || !strings.Contains(note, "FORM_TYPE") {
		t.Errorf("another FORM_TYPE: note %q (%s), want an error naming the FORM_TYPE", note, typ)
	}
	if ok, err := s.Accounts.Exists(context.Background(), xmpptest.Domain, "tybalt"); ok || err != nil {
		t.Errorf("tybalt exists after a form of another FORM_TYPE: %v, %v", ok, err)
	}

	res = submitFields(t, boss, execute(t, boss, node+"add-user"), "<field var='accountjid'><value>paris@localhost</value></field>"+fields)
	if note, typ, _ := completed(t, res); typ != "info" {
		t.Fatalf("no FORM_TYPE: note %q (%s), want the account added", note, typ)
	}
	xmpptest.Login(t, s, "paris", "pw", "church").Ping()
}

// TestEndedSession: a request to a session that was completed or
// canceled is told that it expired (XEP-0050 §4.6: not-allowed,
// session-expired); one to a session another resource opened, or that
// never was, is bad-sessionid.
func TestEndedSession(t *testing.T) {
	s, boss := start(t)
	cmd := execute(t, boss, node+"change-user-password")
	completed(t, submit(t, boss, cmd, "accountjid", "juliet@localhost", "password", "new pw"))
	for _, action := range []string{"complete", "cancel"} {
		res := ask(t, boss, "<iq type='set' id='e' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"change-user-password' sessionid='"+
			cmd.Attr("sessionid")+"' action='"+action+"'><x xmlns='jabber:x:data' type='submit'/></command></iq>")
		if e := xmpptest.ExpectError(t, res, "not-allowed"); e.Child(adhoc.NS, "session-expired") == nil {
			t.Errorf("%s of a completed session: got %s, want session-expired", action, res)
		}
	}

	laptop := xmpptest.Login(t, s, "boss", "boss pw", "laptop")
	for _, id := range []string{execute(t, boss, node+"change-user-password").Attr("sessionid"), "never-opened"} {
		res := ask(t, laptop, "<iq type='set' id='e' to='localhost'><command xmlns='"+adhoc.NS+"' node='"+node+"change-user-password' sessionid='"+
			id+"' action='cancel'/></iq>")
		if e := xmpptest.ExpectError(t, res, "bad-request"); e.Child(adhoc.NS, "bad-sessionid") == nil {
			t.Errorf("session %s from another resource: got %s, want bad-sessionid", id, res)
		}
	}
}

// TestMessageOfTheDayReachesOnlineUsers: a message set while juliet is
// online reaches her at once (XEP-0133 §4.24: "sent immediately to users
// who are online when the message is set"), and counts as got: her next
// login brings it no more.
func TestMessageOfTheDayReachesOnlineUsers(t *testing.T) {
	s, boss := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "juliet pw", "balcony")
	juliet.Online()
	// Her initial presence is handled, with the login's (empty) message
	// of the day, once her ping is answered.
	if res := ask(t, juliet, "<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"); res.Attr("type") != "result" {
		t.Fatalf("ping: %s", res)
	}
	completed(t, submit(t, boss, execute(t, boss, node+"set-motd"), "motd", "Maintenance at noon."))
	m := juliet.NextNamed("message")
	if m.Attr("from") != "localhost" || m.Attr("type") != "headline" || m.Child("jabber:client", "body").Text() != "Maintenance at noon." {
		t.Fatalf("juliet got %s, want the message of the day", m)
	}

	again := xmpptest.Login(t, s, "juliet", "juliet pw", "garden")
	again.Online()
	again.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	for el := again.Next(); el.Attr("id") != "barrier"; el = again.Next() {
		if el.Name.Local == "message" {
			t.Fatalf("juliet's next login got %s, want no message of the day", el)
		}
	}
}
