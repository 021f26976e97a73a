package pie_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/pie"
	"xmppd/xmlstream"
)

// archived is one message of a <archive/> as Prosody writes it.
func archived(stamp, from, to, body string) string {
	return "<result xmlns='urn:xmpp:mam:2' id='prosody-" + stamp + "'><forwarded xmlns='urn:xmpp:forward:0'>" +
		"<delay xmlns='urn:xmpp:delay' stamp='" + stamp + "'/>" +
		"<message xmlns='jabber:client' from='" + from + "' to='" + to + "' type='chat' id='m-" + body + "'>" +
		"<body>" + body + "</body><stanza-id xmlns='urn:xmpp:sid:0' by='" + bareOf(from) + "' id='theirs'/></message>" +
		"</forwarded></result>"
}

func bareOf(full string) string { b, _, _ := strings.Cut(full, "/"); return b }

// userFile writes a file with one user of localhost and its archive.
func userFile(t *testing.T, path, user string, results ...string) {
	write(t, path, "<server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'><user name='"+user+"' password='pw'>"+
		"<archive xmlns='urn:xmpp:pie:0#mam'>"+strings.Join(results, "")+"</archive></user></host></server-data>")
}

// archiveQuery sends a MAM query and returns its <result/> elements.
func archiveQuery(c *xmpptest.Client, form string) []*xmlstream.Element {
	c.T.Helper()
	c.Send("<iq type='set' id='q'><query xmlns='urn:xmpp:mam:2' queryid='qid'>" + form + "</query></iq>")
	var results []*xmlstream.Element
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Attr("id") == "q" {
			if el.Attr("type") != "result" {
				c.T.Fatalf("query %s: got %s", form, el)
			}
			return results
		}
		results = append(results, el.Child("urn:xmpp:mam:2", "result"))
	}
}

// mamForm returns a query form with the var, value pairs.
func mamForm(kv ...string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>")
	for i := 0; i < len(kv); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", kv[i], kv[i+1])
	}
	return b.String() + "</x>"
}

// summary is "body@stamp" of each result, and checks that their ids
// are negative and grow.
func summary(t *testing.T, results []*xmlstream.Element) string {
	t.Helper()
	var out []string
	last := int64(-1 << 62)
	for _, r := range results {
		id, err := strconv.ParseInt(r.Attr("id"), 10, 64)
		if err != nil || id >= 0 || id <= last {
			t.Fatalf("result id %q after %d: want negative ids that grow", r.Attr("id"), last)
		}
		last = id
		fwd := r.Child("urn:xmpp:forward:0", "forwarded")
		msg := fwd.Child("jabber:client", "message")
		if sid := msg.Child("urn:xmpp:sid:0", "stanza-id"); sid != nil && sid.Attr("id") == "theirs" {
			t.Fatalf("the other server's stanza id was kept: %s", msg)
		}
		out = append(out, msg.Child("jabber:client", "body").Text()+"@"+fwd.Child("urn:xmpp:delay", "delay").Attr("stamp")[:10])
	}
	return strings.Join(out, " ")
}

// Archives imported from several files take their places together,
// ordered by date below what the server archived before; paging, date
// ranges and search work on them; messages dated after what was there
// are dropped, and said to be.
func TestImportArchive(t *testing.T) {
	s := xmpptest.Start(t)
	ctx := context.Background()
	// Something archived before the import, today.
	s.AddUser(t, "nurse", xmpptest.Domain, "pw")
	nurse := xmpptest.Login(t, s, "nurse", "pw", "r")
	nurse.Send("<message to='nurse@localhost' type='chat'><body>already here</body></message>")
	nurse.Ping()

	dir := t.TempDir()
	userFile(t, filepath.Join(dir, "juliet.xml"), "juliet",
		archived("2020-03-01T10:00:00Z", "juliet@localhost/b", "romeo@localhost", "third"),
		archived("2020-01-01T10:00:00Z", "romeo@localhost/o", "juliet@localhost/b", "first"),
		archived("2099-01-01T10:00:00Z", "juliet@localhost/b", "romeo@localhost", "future"),
		"<result xmlns='urn:xmpp:mam:2'><forwarded xmlns='urn:xmpp:forward:0'/></result>")
	userFile(t, filepath.Join(dir, "romeo.xml"), "romeo",
		archived("2020-02-01T10:00:00.250Z", "romeo@localhost/o", "juliet@localhost", "second"),
		archived("2020-03-01T10:00:00Z", "juliet@localhost/b", "romeo@localhost", "third"))
	im := importer(s)
	// juliet's future message would not fit before nurse's of today.
	if err := im.CheckArchives(ctx, []string{filepath.Join(dir, "romeo.xml")}); err != nil {
		t.Fatalf("check of romeo's archive: %v", err)
	}
	if err := im.CheckArchives(ctx, []string{filepath.Join(dir, "juliet.xml")}); !errors.Is(err, pie.ErrArchiveOverlap) || !strings.Contains(err.Error(), "2099-01-01") {
		t.Fatalf("check of juliet's archive: %v, want an overlap up to 2099", err)
	}
	for _, f := range []string{"juliet.xml", "romeo.xml"} {
		if _, err := im.Import(ctx, filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// Until they take their place, the imported messages are nobody's,
	// and do not disturb others' date ranges.
	if results := archiveQuery(nurse, mamForm("end", "2100-01-01T00:00:00Z")); len(results) != 1 {
		t.Fatalf("nurse's archive until 2100 during the import: %d messages, want her one", len(results))
	}
	res, err := im.Finish(ctx)
	if err != nil || res.Archived != 4 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "1 archived messages were left out") {
		t.Fatalf("finish: %+v, %v", res, err)
	}

	juliet := xmpptest.Login(t, s, "juliet", "pw", "b")
	if got, want := summary(t, archiveQuery(juliet, "")), "first@2020-01-01 third@2020-03-01"; got != want {
		t.Fatalf("juliet's archive: %s, want %s", got, want)
	}
	romeo := xmpptest.Login(t, s, "romeo", "pw", "o")
	all := archiveQuery(romeo, "")
	if got, want := summary(t, all), "second@2020-02-01 third@2020-03-01"; got != want {
		t.Fatalf("romeo's archive: %s, want %s", got, want)
	}
	rsm := "<set xmlns='http://jabber.org/protocol/rsm'><max>1</max><after>" + all[0].Attr("id") + "</after></set>"
	if got := summary(t, archiveQuery(romeo, rsm)); got != "third@2020-03-01" {
		t.Fatalf("romeo's page after the first: %s", got)
	}
	ranged := mamForm("start", "2020-01-15T00:00:00Z", "end", "2020-02-15T00:00:00Z")
	if got := summary(t, archiveQuery(romeo, ranged)); got != "second@2020-02-01" {
		t.Fatalf("romeo's archive in February: %s", got)
	}
	if got := summary(t, archiveQuery(juliet, mamForm("{urn:xmpp:fulltext:0}fulltext", "third"))); got != "third@2020-03-01" {
		t.Fatalf("juliet's search: %s", got)
	}

	// A later import: what is older than everything goes first; what
	// falls among the archived messages is dropped.
	userFile(t, filepath.Join(dir, "tybalt.xml"), "tybalt",
		archived("2019-06-01T10:00:00Z", "tybalt@localhost/x", "romeo@localhost", "older"),
		archived("2020-02-15T10:00:00Z", "tybalt@localhost/x", "romeo@localhost", "among"))
	im = importer(s)
	if err := im.CheckArchives(ctx, []string{filepath.Join(dir, "tybalt.xml")}); !errors.Is(err, pie.ErrArchiveOverlap) {
		t.Fatalf("check of tybalt's archive: %v, want an overlap", err)
	}
	if _, err := im.Import(ctx, filepath.Join(dir, "tybalt.xml")); err != nil {
		t.Fatal(err)
	}
	if res, err := im.Finish(ctx); err != nil || res.Archived != 1 || len(res.Notes) != 1 {
		t.Fatalf("second finish: %+v, %v", res, err)
	}
	tybalt := xmpptest.Login(t, s, "tybalt", "pw", "x")
	if got := summary(t, archiveQuery(tybalt, "")); got != "older@2019-06-01" {
		t.Fatalf("tybalt's archive: %s", got)
	}
	if got := summary(t, archiveQuery(romeo, "")); got != "second@2020-02-01 third@2020-03-01" {
		t.Fatalf("romeo's archive after the second import: %s", got)
	}
	if results := archiveQuery(nurse, ""); len(results) != 1 || results[0].Attr("id")[0] == '-' {
		t.Fatalf("nurse's archive: %v", results)
	}
}
