package pie_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/internal/xmpptest"
	"xmppd/storage/postgres"
)

// TestImportPEPNamesBeyondLimits: a node name or an item id longer than a
// publish may use (keys in the database) is left out and noted, as a
// publish refuses it; the rest of the account is imported.
func TestImportPEPNamesBeyondLimits(t *testing.T) {
	s := xmpptest.Start(t)
	dir := t.TempDir()
	long := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)[:n]
	}
	write(t, filepath.Join(dir, "pep.xml"), `<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='alice' password='secret'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <items node='urn:example:`+long(6000)+`'><item id='a'><entry xmlns='urn:example'>long node</entry></item></items>
    <items node='urn:example:pep'>
      <item id='`+long(6000)+`'><entry xmlns='urn:example'>long id</entry></item>
      <item id='short'><entry xmlns='urn:example'>kept</entry></item>
    </items>
  </pubsub>
  <vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>
</user></host></server-data>`)
	res, err := importer(s).Import(context.Background(), filepath.Join(dir, "pep.xml"))
	if err != nil || res.Accounts != 1 || res.VCards != 1 || res.Nodes != 1 || res.Items != 1 || len(res.Notes) != 2 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	_, items, err := postgres.NewPEP(s.DB).Items(context.Background(), jid.MustParse("alice@localhost"), "urn:example:pep", nil, 10)
	if err != nil || len(items) != 1 || items[0].ID != "short" || !strings.Contains(string(items[0].Payload), "kept") {
		t.Fatalf("items: %v, %v", items, err)
	}
}

// TestImportFailureLeavesNoAccount: when storing an account's data fails
// half-way, the import fails and the account it created is gone with what
// was stored of it, so that importing the file again, once fixed, imports
// it whole instead of skipping it as existing.
func TestImportFailureLeavesNoAccount(t *testing.T) {
	s := xmpptest.Start(t)
	dir := t.TempDir()
	b := make([]byte, 6000)
	rand.Read(b)
	// A namespace too long for the database's index of private storage.
	ns := "urn:example:" + base64.RawURLEncoding.EncodeToString(b)
	write(t, filepath.Join(dir, "bad.xml"), `<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='alice' password='secret'>
  <vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>
  <query xmlns='jabber:iq:private'><x xmlns='`+ns+`'/></query>
</user></host></server-data>`)
	if _, err := importer(s).Import(context.Background(), filepath.Join(dir, "bad.xml")); err == nil {
		t.Fatal("the import of a namespace the database cannot index succeeded")
	}
	if n, err := s.Accounts.Count(context.Background(), "localhost"); err != nil || n != 0 {
		t.Fatalf("%d accounts after a failed import, %v", n, err)
	}
}
