package c2s_test

import (
	"context"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// offlineBodies returns the bodies of the messages stored offline for
// juliet, in the order they were stored.
func offlineBodies(t *testing.T, s *xmpptest.Server) []string {
	t.Helper()
	rows, err := s.DB.Query(context.Background(),
		`SELECT stanza FROM offline_messages WHERE domain = 'localhost' AND username = 'juliet' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var bodies []string
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		st, err := xmlstream.ParseStored(raw)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, st.Child(st.Name.Space, "body").Text())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return bodies
}

// TestBind2ClearsArchivedOfflineMessages: a Bind 2 bind removes the
// offline messages the account's archive holds without sending them
// (XEP-0386 §2.2: the client gets them with MAM), and only those: one
// whose archive entry was removed since (retention), and one the
// archive never kept (the account's preferences exclude its sender),
// still come at initial presence, as to a client that binds the RFC
// 6120 way.
func TestBind2ClearsArchivedOfflineMessages(t *testing.T) {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo", "tybalt"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	// Juliet, bound but not available, keeps nothing of Tybalt's.
	legacy := xmpptest.Login(t, s, "juliet", "pw", "desk")
	legacy.Result("set", "", "<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never><jid>tybalt@localhost</jid></never></prefs>")

	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	tybalt := xmpptest.Login(t, s, "tybalt", "pw", "street")
	for _, b := range []string{"archived one", "pruned", "archived two"} {
		romeo.Send("<message type='chat' to='juliet@localhost'><body>" + b + "</body></message>")
	}
	romeo.Ping()
	tybalt.Send("<message type='chat' to='juliet@localhost'><body>unarchived</body></message>")
	tybalt.Ping()
	// The retention job removed one from her archive.
	if _, err := s.DB.Exec(context.Background(), `DELETE FROM archive_messages
		WHERE domain = 'localhost' AND username = 'juliet' AND convert_from(stanza, 'UTF8') LIKE '%pruned%'`); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(offlineBodies(t, s), ","); got != "archived one,pruned,archived two,unarchived" {
		t.Fatalf("stored offline: %s", got)
	}

	j, _ := encrypted(t, s)
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", bindRequest(""))
	j.JID = success.Child(nsSASL2, "authorization-identifier").Text()
	j.Next() // features
	if got := strings.Join(offlineBodies(t, s), ","); got != "pruned,unarchived" {
		t.Fatalf("stored offline after the bind: %s, want only what the archive does not hold", got)
	}
	j.Online()
	var got []string
	for _, m := range j.MessagesBeforePing() {
		got = append(got, m.Child("jabber:client", "body").Text())
	}
	if strings.Join(got, ",") != "pruned,unarchived" {
		t.Fatalf("delivered %q, want only what the archive does not hold", got)
	}
}

// TestLegacyBindKeepsArchivedOfflineMessages: a client that binds the
// RFC 6120 way gets every offline message, archived or not, at initial
// presence; only a Bind 2 bind clears them.
func TestLegacyBindKeepsArchivedOfflineMessages(t *testing.T) {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Send("<message type='chat' to='juliet@localhost'><body>archived</body></message>")
	romeo.Ping()

	// SASL2 without Bind 2, then RFC 6120 binding.
	j, _ := encrypted(t, s)
	j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", agent)
	j.Next() // features
	j.JID = j.Bind("balcony")
	j.Online()
	if m := j.NextNamed("message"); m.Child("jabber:client", "body").Text() != "archived" {
		t.Fatalf("got %s, want the archived message", m)
	}
}

// TestSASL2ResumeKeepsOfflineMessages: a resumption inside SASL2
// (XEP-0198 inline) skips the Bind 2 request beside it (XEP-0386 §2.2),
// and with it the clearing of offline messages: what waited offline for
// the resumed session, which had not sent initial presence, is still
// there, and comes with its initial presence.
func TestSASL2ResumeKeepsOfflineMessages(t *testing.T) {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	j, _ := encrypted(t, s)
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		bindRequest("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"))
	full := success.Child(nsSASL2, "authorization-identifier").Text()
	previd := success.Child(nsBind2, "bound").Child("urn:xmpp:sm:3", "enabled").Attr("id")
	j.Next() // features

	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Send("<message type='chat' to='juliet@localhost'><body>archived</body></message>")
	romeo.Ping()
	j.Conn.Close()

	j2, _ := encrypted(t, s)
	success = j2.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		agent+"<resume xmlns='urn:xmpp:sm:3' previd='"+previd+"' h='0'/>"+"<bind xmlns='"+nsBind2+"'><tag>Test</tag></bind>")
	if success.Child("urn:xmpp:sm:3", "resumed") == nil {
		t.Fatalf("got %s, want <resumed/>", success)
	}
	j2.Next() // features
	if got := strings.Join(offlineBodies(t, s), ","); got != "archived" {
		t.Fatalf("stored offline after the resumption: %q, want the message kept", got)
	}
	sm := &xmpptest.SM{C: j2, ID: previd, AutoAck: true}
	j2.JID = full
	sm.Send("<presence/>")
	for {
		el := sm.Next()
		if el.Name.Local == "message" {
			if b := el.Child("jabber:client", "body"); b == nil || b.Text() != "archived" {
				t.Fatalf("got %s, want the offline message", el)
			}
			sm.Ack()
			return
		}
	}
}
