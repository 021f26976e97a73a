package pie_test

import (
	"context"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestExportKeepsOfflineStamps: an offline message exported and imported
// elsewhere is delivered with the date it was first stored, not that of
// the import.
func TestExportKeepsOfflineStamps(t *testing.T) {
	ctx := context.Background()
	s1 := xmpptest.Start(t)
	s1.AddUser(t, "alice", xmpptest.Domain, "alice's password")
	s1.AddUser(t, "bob", xmpptest.Domain, "bob's password")
	alice := xmpptest.Login(t, s1, "alice", "alice's password", "laptop")
	alice.Send("<message to='bob@localhost' type='chat' id='m1'><body>while you were away</body></message>")
	alice.Ping()
	if tag, err := s1.DB.Exec(ctx, `UPDATE offline_messages SET stamp = '2020-01-02T03:04:05Z'`); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("dating the offline message: %v, %v", tag, err)
	}

	file, content := export(t, s1, t.TempDir(), "export.xml")
	s2 := xmpptest.Start(t)
	if res, err := importer(s2).Import(ctx, file); err != nil || res.Offline != 1 {
		t.Fatalf("import: %+v, %v\n%s", res, err, content)
	}
	bob := xmpptest.Login(t, s2, "bob", "bob's password", "phone")
	bob.Online()
	for {
		el := bob.Next()
		if el.Name.Local != "message" || !strings.Contains(el.String(), "while you were away") {
			continue
		}
		d := el.Child("urn:xmpp:delay", "delay")
		if d == nil || !strings.HasPrefix(d.Attr("stamp"), "2020-01-02T03:04:05") {
			t.Fatalf("bob's offline message %s, want it dated 2020-01-02T03:04:05Z, when it was stored", el)
		}
		return
	}
}
