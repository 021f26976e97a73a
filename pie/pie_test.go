package pie_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"xmppd/auth"
	"xmppd/internal/xmpptest"
	"xmppd/pie"
	"xmppd/server"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// credential returns password's credential of hash.
func credential(t *testing.T, password, hash string) auth.Credential {
	creds, err := auth.DeriveCredentials(password, 4096)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if c.Hash == hash {
			return c
		}
	}
	t.Fatalf("no %s credential", hash)
	return auth.Credential{}
}

// scramElement returns c as an exporting server writes it, labelled with
// mechanism.
func scramElement(c auth.Credential, mechanism string) string {
	return "<scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='" + mechanism + "'>" +
		"<iter-count>" + strconv.Itoa(c.Iterations) + "</iter-count>" +
		"<salt>" + base64.StdEncoding.EncodeToString(c.Salt) + "</salt>" +
		"<server-key>" + base64.StdEncoding.EncodeToString(c.ServerKey) + "</server-key>" +
		"<stored-key>" + base64.StdEncoding.EncodeToString(c.StoredKey) + "</stored-key>" +
		"</scram-credentials>"
}

// scram returns the SCRAM-SHA-1 and SCRAM-SHA-256 credentials of
// password.
func scram(t *testing.T, password string) string {
	return scramElement(credential(t, password, auth.HashSHA1), "SCRAM-SHA-1") +
		scramElement(credential(t, password, auth.HashSHA256), "SCRAM-SHA-256")
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("<?xml version='1.0' encoding='UTF-8'?>\n"+content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func importer(s *xmpptest.Server) *pie.Importer {
	im := server.Importer(s.Config, s.DB)
	im.Limits.Iterations = 4096
	return im
}

// TestImport imports a server's export split by XInclude, as ejabberd
// writes it, and uses the accounts.
func TestImport(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "nurse", xmpptest.Domain, "already here")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.xml"), `<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'>
  <xi:include href='localhost.xml'/>
  <host jid='elsewhere.example'><user name='stranger' password='x'/></host>
</server-data>`)
	write(t, filepath.Join(dir, "localhost.xml"), `<host xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude' jid='localhost'>
  <xi:include href='localhost/juliet.xml'/>
  <user name='romeo' password='montague'/>
  <user name='nurse' password='overwritten?'><vCard xmlns='vcard-temp'><FN>Not imported</FN></vCard></user>
  <user name='tybalt'><scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><iter-count>0</iter-count></scram-credentials></user>
</host>`)
	write(t, filepath.Join(dir, "localhost", "juliet.xml"), `<user xmlns='urn:xmpp:pie:0' name='juliet'>
  `+scram(t, "rose")+`
  <query xmlns='jabber:iq:roster'>
    <item jid='romeo@localhost' name='Romeo' subscription='both'><group>Friends</group></item>
    <item jid='paris@example.org' subscription='none' ask='subscribe' approved='true'/>
  </query>
  <presence xmlns='jabber:client' type='subscribe' from='mercutio@example.org/x'/>
  <vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard>
  <query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><color>red</color></prefs></query>
  <offline-messages>
    <message xmlns='jabber:client' from='romeo@localhost/orchard' to='juliet@localhost' type='chat' id='o1'><body>wherefore</body></message>
  </offline-messages>
  <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
    <configure node='http://jabber.org/protocol/nick'><x xmlns='jabber:x:data' type='form'>
      <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>
      <field var='pubsub#access_model'><value>open</value></field>
      <field var='pubsub#unknown_option'><value>1</value></field>
    </x></configure>
  </pubsub>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <items node='http://jabber.org/protocol/nick'><item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Jules</nick></item></items>
  </pubsub>
  <archive xmlns='urn:xmpp:pie:0#mam'/>
</user>`)

	res, err := importer(s).Import(context.Background(), filepath.Join(dir, "main.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accounts != 2 || res.RosterItems != 2 || res.Pending != 1 || res.VCards != 1 || res.Private != 1 || res.Offline != 1 || res.Nodes != 1 || res.Items != 1 {
		t.Errorf("result %+v", res)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, want := range []string{"elsewhere.example", "nurse@localhost: the account exists", "tybalt@localhost", "pubsub#unknown_option"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}

	// Juliet logs in with her old password, by either hash.
	juliet := xmpptest.Login(t, s, "juliet", "rose", "balcony")
	sha1 := xmpptest.Dial(t, s.C2SAddr)
	sha1.Open(xmpptest.Domain)
	sha1.Features()
	sha1.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, 0))
	sha1.Features()
	if el := sha1.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-1"}, "juliet", "rose"); el.Name.Local != "success" {
		t.Fatalf("SCRAM-SHA-1 login: %s", el)
	}

	items := map[string]*xmlstream.Element{}
	for _, it := range juliet.Result("get", "", "<query xmlns='jabber:iq:roster'/>").Child("jabber:iq:roster", "query").ChildElements() {
		items[it.Attr("jid")] = it
	}
	romeoItem, paris := items["romeo@localhost"], items["paris@example.org"]
	if len(items) != 2 || romeoItem.Attr("subscription") != "both" || romeoItem.Attr("name") != "Romeo" ||
		romeoItem.Child("jabber:iq:roster", "group").Text() != "Friends" || paris.Attr("ask") != "subscribe" || paris.Attr("approved") != "true" {
		t.Fatalf("roster %v", items)
	}
	card := juliet.Result("get", "", "<vCard xmlns='vcard-temp'/>").Child("vcard-temp", "vCard")
	if card.Child("vcard-temp", "FN").Text() != "Juliet Capulet" {
		t.Fatalf("vCard %s", card)
	}
	prefs := juliet.Result("get", "", "<query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query>")
	if !strings.Contains(prefs.String(), "<color>red</color>") {
		t.Fatalf("private %s", prefs)
	}
	// At her initial presence she gets the request and the offline message.
	juliet.Send("<presence/>")
	var gotRequest, gotMessage bool
	for !gotRequest || !gotMessage {
		el := juliet.Next()
		gotRequest = gotRequest || el.Name.Local == "presence" && el.Attr("type") == "subscribe" && el.Attr("from") == "mercutio@example.org"
		gotMessage = gotMessage || el.Name.Local == "message" && el.Child("jabber:client", "body") != nil && el.Child("jabber:client", "body").Text() == "wherefore"
	}

	// Romeo logs in with his plaintext password and reads her open nick.
	romeo := xmpptest.Login(t, s, "romeo", "montague", "orchard")
	nick := romeo.Result("get", "juliet@localhost", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub>")
	if !strings.Contains(nick.String(), "Jules") {
		t.Fatalf("nick %s", nick)
	}
	// The nurse keeps her password.
	xmpptest.Login(t, s, "nurse", "already here", "r")
}

// TestImportPrivacy imports the blocklist from an ejabberd export's
// default privacy list: only the items that deny everything from a JID.
func TestImportPrivacy(t *testing.T) {
	s := xmpptest.Start(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.xml"), `<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='juliet' password='rose'>
  <query xmlns='jabber:iq:privacy'>
    <default name='Blocked contacts'/>
    <list name='other'><item type='jid' value='nurse@localhost' action='deny' order='1'/></list>
    <list name='Blocked contacts'>
      <item type='jid' value='tybalt@localhost' action='deny' order='1'/>
      <item type='jid' value='romeo@localhost' action='allow' order='2'/>
      <item type='jid' value='paris@localhost' action='deny' order='3'><message/></item>
      <item type='group' value='Capulets' action='deny' order='4'/>
    </list>
  </query>
</user></host></server-data>`)
	res, err := importer(s).Import(context.Background(), filepath.Join(dir, "p.xml"))
	if err != nil || res.Blocked != 1 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "3 items") {
		t.Fatalf("import: %+v, %v", res, err)
	}
	juliet := xmpptest.Login(t, s, "juliet", "rose", "balcony")
	if list := juliet.Result("get", "", "<blocklist xmlns='urn:xmpp:blocking'/>"); len(list.FirstChildElement().ChildElements()) != 1 ||
		!strings.Contains(list.String(), "tybalt@localhost") {
		t.Fatalf("juliet's blocklist: %s", list)
	}
}

// TestImportBadFiles checks that malformed files fail with an error
// naming the file, and change nothing. (Files are read one user at a
// time: the users before a malformed one are imported.)
func TestImportBadFiles(t *testing.T) {
	s := xmpptest.Start(t)
	dir := t.TempDir()
	cases := map[string]string{
		"broken.xml":  "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'>",
		"missing.xml": "<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='nowhere.xml'/></server-data>",
		"dtd.xml":     "<!DOCTYPE server-data [<!ENTITY big 'x'>]><server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='a' password='&big;'/></host></server-data>",
		"user.xml":    "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='a' password='x'><query xmlns='jabber:iq:roster'></user></host></server-data>",
	}
	for name, content := range cases {
		write(t, filepath.Join(dir, name), content)
		if _, err := importer(s).Import(context.Background(), filepath.Join(dir, name)); err == nil || !strings.Contains(err.Error(), ".xml") {
			t.Errorf("%s: err %v, want one naming the file", name, err)
		}
	}
	// An include of itself stops at the depth limit.
	write(t, filepath.Join(dir, "loop.xml"), "<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='loop.xml'/></server-data>")
	res, err := importer(s).Import(context.Background(), filepath.Join(dir, "loop.xml"))
	if err != nil || len(res.Notes) != 1 {
		t.Errorf("loop: %+v, %v", res, err)
	}
	if n, err := s.Accounts.Count(context.Background(), ""); err != nil || n != 0 {
		t.Errorf("%d accounts after bad files, %v", n, err)
	}
}

// TestProsodyCredentials imports credentials as Prosody 0.12's migrator
// writes them: three times over, labelled SCRAM-SHA-1 whatever their
// hash.
func TestProsodyCredentials(t *testing.T) {
	s := xmpptest.Start(t)
	one := scramElement(credential(t, "rose", auth.HashSHA256), "SCRAM-SHA-1")
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.xml"), "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='juliet'>"+one+one+one+"</user></host></server-data>")
	if res, err := importer(s).Import(context.Background(), filepath.Join(dir, "p.xml")); err != nil || res.Accounts != 1 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	xmpptest.Login(t, s, "juliet", "rose", "r") // SCRAM-SHA-256
}

// TestEjabberdCredentials imports ejabberd's SCRAM credentials: its
// older password='scram:StoredKey,ServerKey,salt,iterations', and the
// <scram-credentials/> of ejabberd 23.01, whose salt and keys are base64
// of base64 (ejabberd keeps them in base64).
func TestEjabberdCredentials(t *testing.T) {
	s := xmpptest.Start(t)
	b64 := base64.StdEncoding.EncodeToString
	twice := func(b []byte) string { return b64([]byte(b64(b))) }
	c := credential(t, "rose", auth.HashSHA256)
	once := "scram:" + b64(c.StoredKey) + "," + b64(c.ServerKey) + "," + b64(c.Salt) + "," + strconv.Itoa(c.Iterations)
	inBase64 := "scram:" + twice(c.StoredKey) + "," + twice(c.ServerKey) + "," + twice(c.Salt) + "," + strconv.Itoa(c.Iterations)
	ejabberd23 := "<scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-256'><iter-count>" + strconv.Itoa(c.Iterations) +
		"</iter-count><salt>" + twice(c.Salt) + "</salt><server-key>" + twice(c.ServerKey) + "</server-key><stored-key>" + twice(c.StoredKey) +
		"</stored-key></scram-credentials>"
	dir := t.TempDir()
	write(t, filepath.Join(dir, "e.xml"), "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'>"+
		"<user name='juliet' password='"+once+"'/><user name='romeo' password='"+inBase64+"'/>"+
		"<user name='nurse'>"+ejabberd23+"</user><user name='tybalt' password='scram:bad'/></host></server-data>")
	res, err := importer(s).Import(context.Background(), filepath.Join(dir, "e.xml"))
	if err != nil || res.Accounts != 4 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	for _, user := range []string{"juliet", "romeo", "nurse"} {
		xmpptest.Login(t, s, user, "rose", "r")
	}
	// Not ejabberd's form: a plaintext password that starts so.
	xmpptest.Login(t, s, "tybalt", "scram:bad", "r")
}

// TestImportAsProsodyWrites imports what Prosody writes and what a
// server may hold beyond this one's limits: stanzas without their own
// namespace, a roster and a vCard over the limits, a PEP node without
// configuration; the next user is imported too.
func TestImportAsProsodyWrites(t *testing.T) {
	s := xmpptest.Start(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "p.xml"), `<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'>
  <user name='juliet' password='rose'>
    <query xmlns='jabber:iq:roster'><item jid='a@example.org'/><item jid='b@example.org'/></query>
    <presence type='subscribe' from='mercutio@example.org'><status>hi</status></presence>
    <vCard xmlns='vcard-temp'><DESC>`+strings.Repeat("long ", 100)+`</DESC></vCard>
    <offline-messages><message from='romeo@localhost/o' to='juliet@localhost' type='chat'><body>wherefore</body></message></offline-messages>
    <pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'>
      <item id='a@rooms.localhost'><conference xmlns='urn:xmpp:bookmarks:1'><password>p</password></conference></item>
      <item id='b@rooms.localhost'><conference xmlns='urn:xmpp:bookmarks:1'/></item>
    </items></pubsub>
  </user>
  <user name='romeo' password='montague'/>
</host></server-data>`)
	im := importer(s)
	im.Limits.RosterItems, im.Limits.VCardBytes = 1, 100
	res, err := im.Import(context.Background(), filepath.Join(dir, "p.xml"))
	if err != nil || res.Accounts != 2 || res.RosterItems != 1 || res.Pending != 1 || res.Offline != 1 || res.Items != 2 || res.VCards != 0 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	juliet := xmpptest.Login(t, s, "juliet", "rose", "balcony")
	items := juliet.Result("get", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub>")
	if got := items.Child("http://jabber.org/protocol/pubsub", "pubsub").Child("http://jabber.org/protocol/pubsub", "items").ChildElements(); len(got) != 2 {
		t.Fatalf("bookmarks %s, want both", items)
	}
	romeo := xmpptest.Login(t, s, "romeo", "montague", "orchard")
	romeo.Send("<iq type='get' id='peek' to='juliet@localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>")
	xmpptest.ExpectError(t, romeo.NextNamed("iq"), "not-allowed") // whitelist: the passwords stay hers
	juliet.Send("<presence/>")
	var gotRequest, gotMessage bool
	for !gotRequest || !gotMessage {
		el := juliet.Next()
		if el.Name.Space != "jabber:client" {
			t.Fatalf("got %s outside jabber:client", el)
		}
		gotRequest = gotRequest || el.Name.Local == "presence" && el.Attr("type") == "subscribe"
		gotMessage = gotMessage || el.Name.Local == "message" && el.Child("jabber:client", "body") != nil
	}
}
