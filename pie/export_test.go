package pie_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
	"xmppd/roster"
	"xmppd/server"
	"xmppd/storage/postgres"
)

// export writes s's accounts to a file in dir and returns its path and
// content.
func export(t *testing.T, s *xmpptest.Server, dir, name string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	if _, err := server.Exporter(s.Config, s.DB).Export(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, b.Bytes()
}

// resultIDs are the archive ids of an export, which differ between
// servers.
var resultIDs = regexp.MustCompile(`<result xmlns='urn:xmpp:mam:2' id='-?[0-9]+'>`)

// TestExportRoundTrip: what accounts did on one server (credentials,
// roster, a pending request, vCard, private storage, a blocklist, PEP, an
// offline message, archives) is exported, imported into a fresh server, and
// works there as it did; exporting the second server gives the same
// file, archive ids apart.
func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	s1 := xmpptest.Start(t)
	s1.AddUser(t, "alice", xmpptest.Domain, "alice's password")
	s1.AddUser(t, "bob", xmpptest.Domain, "bob's password")
	alice := xmpptest.Login(t, s1, "alice", "alice's password", "laptop")
	alice.Result("set", "", "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query>")
	alice.Result("set", "", "<vCard xmlns='vcard-temp'><FN>Alice &amp; co</FN></vCard>")
	alice.Result("set", "", "<query xmlns='jabber:iq:private'><notes xmlns='urn:example:notes'>private</notes></query>")
	alice.Result("set", "", "<block xmlns='urn:xmpp:blocking'><item jid='mallory@evil.example'/><item jid='spam.example'/></block>")
	alice.Result("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:pep'><item id='it&apos;em'>"+
		"<entry xmlns='urn:example:pep'>published</entry></item></publish></pubsub>")
	// bob is offline: the message waits for him, and both archive it.
	alice.Send("<message to='bob@localhost' type='chat' id='m1'><body>while you were away</body></message>")
	alice.Ping()
	carol := jid.MustParse("carol@example.org")
	request := "<presence xmlns='jabber:client' from='carol@example.org' to='bob@localhost' type='subscribe'/>"
	if _, err := postgres.NewRoster(s1.DB).Update(ctx, jid.MustParse("bob@localhost"), carol, 100, func(st roster.State) (roster.State, error) {
		st.PendingIn = request
		return st, nil
	}); err != nil {
		t.Fatal(err)
	}
	stamp := archiveQuery(alice, "")[0].Child("urn:xmpp:forward:0", "forwarded").Child("urn:xmpp:delay", "delay").Attr("stamp")

	dir := t.TempDir()
	file, first := export(t, s1, dir, "first.xml")
	s2 := xmpptest.Start(t)
	im := importer(s2)
	res, err := im.Import(ctx, file)
	if err != nil || res.Accounts != 2 || res.RosterItems != 1 || res.Pending != 1 || res.VCards != 1 || res.Private != 1 ||
		res.Offline != 1 || res.Blocked != 2 || res.Nodes != 1 || res.Items != 1 || res.Archived != 2 || len(res.Notes) != 0 {
		t.Fatalf("import: %+v, %v\n%s", res, err, first)
	}
	if res, err := im.Finish(ctx); err != nil || res.Archived != 2 {
		t.Fatalf("finish: %+v, %v", res, err)
	}

	alice = xmpptest.Login(t, s2, "alice", "alice's password", "laptop")
	if ros := alice.Result("get", "", "<query xmlns='jabber:iq:roster'/>").String(); !strings.Contains(ros, "name='Bob'") || !strings.Contains(ros, "Friends") {
		t.Fatalf("alice's roster: %s", ros)
	}
	if card := alice.Result("get", "", "<vCard xmlns='vcard-temp'/>").String(); !strings.Contains(card, "Alice &amp; co") {
		t.Fatalf("alice's vCard: %s", card)
	}
	if notes := alice.Result("get", "", "<query xmlns='jabber:iq:private'><notes xmlns='urn:example:notes'/></query>").String(); !strings.Contains(notes, "private") {
		t.Fatalf("alice's private storage: %s", notes)
	}
	if list := alice.Result("get", "", "<blocklist xmlns='urn:xmpp:blocking'/>").String(); !strings.Contains(list, "mallory@evil.example") || !strings.Contains(list, "'spam.example'") {
		t.Fatalf("alice's blocklist: %s", list)
	}
	if items := alice.Result("get", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:pep'/></pubsub>").String(); !strings.Contains(items, "published") {
		t.Fatalf("alice's PEP node: %s", items)
	}
	archived := archiveQuery(alice, "")
	if len(archived) != 1 || archived[0].Child("urn:xmpp:forward:0", "forwarded").Child("urn:xmpp:delay", "delay").Attr("stamp") != stamp {
		t.Fatalf("alice's archive: %v, want the message of %s", archived, stamp)
	}
	bob := xmpptest.Login(t, s2, "bob", "bob's password", "phone")
	bob.Online()
	var gotMessage, gotRequest bool
	for !gotMessage || !gotRequest {
		el := bob.Next()
		if el.Name.Local == "message" && strings.Contains(el.String(), "while you were away") {
			// s1's stanza id named a message of s1's archive.
			if sid := el.Child("urn:xmpp:sid:0", "stanza-id"); sid != nil && sid.Attr("by") == "bob@localhost" {
				t.Fatalf("bob's offline message kept the old server's stanza id: %s", el)
			}
			gotMessage = true
		}
		gotRequest = gotRequest || el.Name.Local == "presence" && el.Attr("type") == "subscribe" && el.Attr("from") == "carol@example.org"
	}

	_, second := export(t, s2, dir, "second.xml")
	// bob's offline message was delivered on s2 in the meantime, and is
	// deleted once he acknowledged it: it may still be there.
	offline := regexp.MustCompile(`<offline-messages>.*</offline-messages>\n`)
	first, second = offline.ReplaceAll(first, nil), offline.ReplaceAll(second, nil)
	if a, b := resultIDs.ReplaceAll(first, nil), resultIDs.ReplaceAll(second, nil); !bytes.Equal(a, b) {
		t.Fatalf("the export of the imported server differs:\n%s\n---\n%s", a, b)
	}
}
