package mam_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/internal/xmpptest"
	"xmppd/storage"
	"xmppd/xmlstream"
)

const nsCorrect = "urn:xmpp:message-correct:0"

// archived is one row of archive_messages as the correction test sees it.
type archived struct {
	id       int64
	origin   string
	replaces int64  // 0: NULL
	stanza   string // the archived message
}

// archiveOf returns the rows of user's archive, oldest first, read from
// the server's own database: queries do not expose replaces_id.
func archiveOf(t *testing.T, pool *pgxpool.Pool, user string) []archived {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, origin_id, coalesce(replaces_id, 0), convert_from(stanza, 'UTF8')
		FROM archive_messages WHERE domain = $1 AND username = $2 ORDER BY id`, xmpptest.Domain, user)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (archived, error) {
		var a archived
		err := r.Scan(&a.id, &a.origin, &a.replaces, &a.stanza)
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// stanzaID returns the archive id the server put on a delivered message.
func stanzaID(t *testing.T, el *xmlstream.Element, by string) int64 {
	t.Helper()
	for _, c := range el.ChildElements() {
		if c.Name.Space == nsSID && c.Name.Local == "stanza-id" && c.Attr("by") == by {
			id, err := strconv.ParseInt(c.Attr("id"), 10, 64)
			if err != nil {
				t.Fatalf("stanza-id %s", c)
			}
			return id
		}
	}
	t.Fatalf("no stanza-id by %s: %s", by, el)
	return 0
}

// correctionPair starts a server with juliet and romeo online, and
// returns a pool on its database, to read the archives' rows.
func correctionPair(t *testing.T) (*pgxpool.Pool, *xmpptest.Client, *xmpptest.Client) {
	t.Helper()
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "pw")
	}
	pool, err := storage.Open(context.Background(), s.Config.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()
	return pool, juliet, romeo
}

// XEP-0308: a correction sent over a socket is archived, in the sender's
// and the recipient's archives, with replaces_id naming the row of the
// message it corrects in that same archive; a query returns it with its
// <replace/>.
func TestCorrection(t *testing.T) {
	t.Parallel()
	pool, juliet, romeo := correctionPair(t)

	send := func(xml string) int64 {
		t.Helper()
		romeo.Send(xml)
		return stanzaID(t, juliet.NextNamed("message"), "juliet@localhost")
	}
	// The original, with an origin-id; a message by juliet in between.
	original := send("<message type='chat' to='juliet@localhost' id='m1'><body>wherefore art thou</body>" +
		"<origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>")
	juliet.Send("<message type='chat' to='romeo@localhost' id='j1'><body>here</body></message>")
	romeo.NextNamed("message")
	// The correction names the original's origin-id; it has its own.
	correction := send("<message type='chat' to='juliet@localhost' id='m2'><body>wherefore art thou, Romeo?</body>" +
		"<replace xmlns='urn:xmpp:message-correct:0' id='o1'/><origin-id xmlns='urn:xmpp:sid:0' id='o2'/></message>")
	// Corrections always name the original (XEP-0308 §5), also the second.
	second := send("<message type='chat' to='juliet@localhost' id='m3'><body>wherefore art thou Romeo?</body>" +
		"<replace xmlns='urn:xmpp:message-correct:0' id='o1'/><origin-id xmlns='urn:xmpp:sid:0' id='o3'/></message>")
	// Without an origin-id the message id is the one corrections name.
	plain := send("<message type='chat' to='juliet@localhost' id='m4'><body>deny thy fahter</body></message>")
	fix := send("<message type='chat' to='juliet@localhost' id='m5'><body>deny thy father</body>" +
		"<replace xmlns='urn:xmpp:message-correct:0' id='m4'/></message>")
	// A correction of nothing known is archived, linked to nothing.
	orphan := send("<message type='chat' to='juliet@localhost' id='m6'><body>and refuse thy name</body>" +
		"<replace xmlns='urn:xmpp:message-correct:0' id='no-such-message'/></message>")
	romeo.Ping()

	want := map[int64]int64{original: 0, correction: original, second: original, plain: 0, fix: plain, orphan: 0}
	jrows := archiveOf(t, pool, "juliet")
	if len(jrows) != 7 {
		t.Fatalf("juliet's archive has %d rows, want 7: %+v", len(jrows), jrows)
	}
	for _, r := range jrows {
		if strings.Contains(r.stanza, "<body>here</body>") {
			continue
		}
		w, ok := want[r.id]
		if !ok || r.replaces != w {
			t.Errorf("juliet's row %d (%q): replaces_id %d, want %d (known %t)", r.id, r.stanza, r.replaces, w, ok)
		}
	}
	// Romeo's own archive links his rows the same way, to his own ids.
	rrows := archiveOf(t, pool, "romeo")
	byOrigin := map[string]archived{}
	for _, r := range rrows {
		byOrigin[r.origin] = r
	}
	for origin, target := range map[string]string{"o1": "", "o2": "o1", "o3": "o1", "m4": "", "m5": "m4", "m6": ""} {
		r, ok := byOrigin[origin]
		var w int64
		if target != "" {
			w = byOrigin[target].id
		}
		if !ok || r.replaces != w || (target != "" && w == 0) {
			t.Errorf("romeo's row with origin %s: %+v, want replaces_id %d (row of %q)", origin, r, w, target)
		}
	}

	// The query result carries the correction as sent.
	results, _ := query(juliet, "", form("with", "romeo@localhost"))
	if got := bodies(results); got != "wherefore art thou,here,wherefore art thou, Romeo?,wherefore art thou Romeo?,"+
		"deny thy fahter,deny thy father,and refuse thy name" {
		t.Fatalf("juliet's archive: %s", got)
	}
	if r := results[2].Child(nsCorrect, "replace"); r == nil || r.Attr("id") != "o1" {
		t.Fatalf("archived correction without its <replace id='o1'/>: %s", results[2])
	}
}

// TestCorrectionOfOwnMessage: XEP-0308 §5: only the sender of a message
// may correct it. When both parties happen to use the same message id
// (clients that count their ids), romeo's correction of his own message
// is linked to his message, not to juliet's later one with that id, in
// both archives.
func TestCorrectionOfOwnMessage(t *testing.T) {
	t.Parallel()
	pool, juliet, romeo := correctionPair(t)

	romeo.Send("<message type='chat' to='juliet@localhost' id='1'><body>wherefore art thou</body></message>")
	juliet.NextNamed("message")
	juliet.Send("<message type='chat' to='romeo@localhost' id='1'><body>here</body></message>")
	romeo.NextNamed("message")
	romeo.Send("<message type='chat' to='juliet@localhost' id='2'><body>wherefore art thou, Romeo?</body>" +
		"<replace xmlns='urn:xmpp:message-correct:0' id='1'/></message>")
	juliet.NextNamed("message")

	for _, owner := range []string{"juliet", "romeo"} {
		rows := archiveOf(t, pool, owner)
		if len(rows) != 3 {
			t.Fatalf("%s's archive has %d rows, want 3: %+v", owner, len(rows), rows)
		}
		// Oldest first: romeo's original, juliet's reply, the correction.
		if rows[2].replaces != rows[0].id {
			t.Errorf("%s's archive: the correction replaces row %d, want %d (romeo's own message, not %d)",
				owner, rows[2].replaces, rows[0].id, rows[1].id)
		}
	}
}

// TestRetractCorrected: XEP-0424 §6 replaces a retracted message's
// content by a tombstone; a message that was corrected (XEP-0308) has its
// text as corrected in the corrections, which must go too, in both
// archives, or the archive still shows and finds what was retracted.
func TestRetractCorrected(t *testing.T) {
	t.Parallel()
	pool, juliet, romeo := correctionPair(t)
	for _, m := range []string{
		"<message type='chat' to='juliet@localhost' id='m1'><body>my secret</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>",
		"<message type='chat' to='juliet@localhost' id='m2'><body>my secret, corrected</body>" +
			"<replace xmlns='urn:xmpp:message-correct:0' id='o1'/><origin-id xmlns='urn:xmpp:sid:0' id='o2'/></message>",
		"<message type='chat' to='juliet@localhost' id='m3'><body>kept</body><origin-id xmlns='urn:xmpp:sid:0' id='o3'/></message>",
		"<message type='chat' to='juliet@localhost' id='r1'><retract xmlns='urn:xmpp:message-retract:1' id='o1'/>" +
			"<body>retracted</body><store xmlns='urn:xmpp:hints'/></message>",
	} {
		romeo.Send(m)
		juliet.NextNamed("message")
	}
	for _, owner := range []string{"juliet", "romeo"} {
		for _, r := range archiveOf(t, pool, owner) {
			if strings.Contains(r.stanza, "secret") {
				t.Errorf("%s's archive keeps retracted text: %s", owner, r.stanza)
			}
		}
	}
	if got, _ := query(juliet, "", form("{urn:xmpp:fulltext:0}fulltext", "secret")); len(got) != 0 {
		t.Errorf("a search finds the retracted text: %s", bodies(got))
	}
	if got, _ := query(juliet, "", form("with", "romeo@localhost")); bodies(got) != "-,-,kept,retracted" {
		t.Errorf("juliet's archive after the retraction: %q, want two tombstones", bodies(got))
	}
}
