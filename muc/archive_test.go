package muc_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const (
	nsMAM  = "urn:xmpp:mam:2"
	nsRSM  = "http://jabber.org/protocol/rsm"
	layout = "2006-01-02T15:04:05.000Z"
)

// archived is one message of a room archive as a query returns it, or
// as an occupant saw it broadcast.
type archived struct {
	id, nick, body string
	stamp          time.Time
	realJID        string // the muc#user item's jid, if any
}

// mamQuery has c query room's archive with the form fields (as <field/>
// elements) and RSM set contents given; it returns the results, in the
// order they came, and the <fin/>.
func mamQuery(t *testing.T, c *xmpptest.Client, room, fields, set string, flip bool) ([]archived, *xmlstream.Element) {
	t.Helper()
	q := "<iq type='set' id='mq' to='" + room + "'><query xmlns='" + nsMAM + "' queryid='qq'>"
	if fields != "" {
		q += "<x xmlns='jabber:x:data' type='submit'>" + field("FORM_TYPE", nsMAM) + fields + "</x>"
	}
	if set != "" {
		q += "<set xmlns='" + nsRSM + "'>" + set + "</set>"
	}
	if flip {
		q += "<flip-page/>"
	}
	c.Send(q + "</query></iq>")
	var got []archived
	for {
		el := c.Next()
		if el.Name.Local == "iq" {
			if el.Attr("id") != "mq" || el.Attr("type") != "result" {
				t.Fatalf("%s: archive query %s %s: got %s", c.JID, fields, set, el)
			}
			return got, el.Child(nsMAM, "fin")
		}
		res := el.Child(nsMAM, "result")
		if el.Name.Local != "message" || el.Attr("from") != room || res == nil || res.Attr("queryid") != "qq" {
			t.Fatalf("%s: got %s, want an archive result", c.JID, el)
		}
		fwd := res.Child("urn:xmpp:forward:0", "forwarded")
		msg := fwd.Child("jabber:client", "message")
		stamp, err := time.Parse(time.RFC3339, fwd.Child("urn:xmpp:delay", "delay").Attr("stamp"))
		if err != nil {
			t.Fatal(err)
		}
		a := archived{id: res.Attr("id"), nick: strings.TrimPrefix(msg.Attr("from"), room+"/"),
			body: text(msg.Child("jabber:client", "body")), stamp: stamp}
		if sid := msg.Child("urn:xmpp:sid:0", "stanza-id"); sid == nil || sid.Attr("id") != a.id {
			t.Fatalf("archived message without its stanza id %s: %s", a.id, msg)
		}
		if x := msg.Child(nsUser, "x"); x != nil {
			a.realJID = x.Child(nsUser, "item").Attr("jid")
		}
		got = append(got, a)
	}
}

// pageAll pages through a query, max messages at a time, forwards with
// <after/> or backwards with <before/>, and returns every message in
// archive order, checking <first/>, <last/> and 'complete' on the way.
func pageAll(t *testing.T, c *xmpptest.Client, room, fields string, max int, backwards bool) []archived {
	t.Helper()
	var all []archived
	cursor := ""
	for range 1000 {
		set := "<max>" + strconv.Itoa(max) + "</max>"
		switch {
		case backwards:
			set += "<before>" + cursor + "</before>"
		case cursor != "":
			set += "<after>" + cursor + "</after>"
		}
		page, fin := mamQuery(t, c, room, fields, set, false)
		rsm := fin.Child(nsRSM, "set")
		if len(page) > max || (len(page) > 0 && (rsm.Child(nsRSM, "first").Text() != page[0].id ||
			rsm.Child(nsRSM, "last").Text() != page[len(page)-1].id)) {
			t.Fatalf("page of %d (max %d) with %s", len(page), max, fin)
		}
		complete := fin.Attr("complete") == "true"
		if !complete && len(page) < max {
			t.Fatalf("an incomplete page of %d, max %d", len(page), max)
		}
		if backwards {
			all = append(page, all...)
			if len(page) > 0 {
				cursor = page[0].id
			}
		} else {
			all = append(all, page...)
			if len(page) > 0 {
				cursor = page[len(page)-1].id
			}
		}
		if complete {
			return all
		}
	}
	t.Fatal("paging does not end")
	return nil
}

// archiveRoom has juliet create room and romeo enter it; they send n
// messages between them, which come back to both in one order: the
// order the archive must keep. It returns the messages as broadcast.
func archiveRoom(t *testing.T, s *xmpptest.Server, juliet, romeo *xmpptest.Client, n int) []archived {
	t.Helper()
	createWithRomeo(t, juliet, romeo)
	body := func(i int) string {
		switch {
		case i == 7:
			return "Parting is such sweet sorrow"
		case i == 8:
			return "sorrow, such sweet parting"
		case i == 9:
			return "明天见，晚安"
		case i%10 == 0:
			return fmt.Sprintf("line %d from the balcony", i)
		}
		return fmt.Sprintf("line %d", i)
	}
	var jb, rb strings.Builder
	for i := range n {
		msg := "<message type='groupchat' to='" + room + "' id='m" + strconv.Itoa(i) + "'><body>" + body(i) + "</body></message>"
		if i%3 == 0 {
			rb.WriteString(msg)
		} else {
			jb.WriteString(msg)
		}
	}
	juliet.Send(jb.String())
	romeo.Send(rb.String())
	var sent []archived
	for i := range n {
		el := juliet.NextNamed("message")
		a := archived{id: stanzaID(t, el), nick: strings.TrimPrefix(el.Attr("from"), room+"/"), body: el.Child("jabber:client", "body").Text()}
		if r := romeo.NextNamed("message"); stanzaID(t, r) != a.id {
			t.Fatalf("message %d: romeo saw %s, juliet %s", i, stanzaID(t, r), a.id)
		}
		sent = append(sent, a)
	}
	return sent
}

func bodiesOf(ms []archived) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.id+" "+m.nick+" "+m.body)
	}
	return out
}

// XEP-0313 on a room: paging forwards and backwards with every filter
// gives the messages in broadcast order, the stanza ids the occupants
// saw.
func TestRoomArchivePaging(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	sent := archiveRoom(t, s, juliet, romeo, 300)

	all := pageAll(t, romeo, room, "", 250, false)
	if !slices.Equal(bodiesOf(all), bodiesOf(sent)) {
		t.Fatalf("the archive (%d messages) is not what was broadcast (%d)", len(all), len(sent))
	}
	for _, m := range all {
		if m.realJID != "" {
			t.Fatalf("romeo, no moderator in a semi-anonymous room, sees a real JID: %+v", m)
		}
	}
	keep := func(f func(i int, m archived) bool) []archived {
		var out []archived
		for i, m := range all {
			if f(i, m) {
				out = append(out, m)
			}
		}
		return out
	}
	start, end := all[100].stamp, all[200].stamp
	endLax := end.Add(999999 * time.Nanosecond) // every stamp within that millisecond
	for _, tc := range []struct {
		name, fields string
		want         []archived
	}{
		{"everything", "", all},
		{"with an occupant", field("with", room+"/romeo"), keep(func(_ int, m archived) bool { return m.nick == "romeo" })},
		{"with the room", field("with", room), all},
		{"with nobody", field("with", room+"/nobody"), nil},
		{"start and end", field("start", start.Format(layout)) + field("end", endLax.Format(time.RFC3339Nano)),
			keep(func(_ int, m archived) bool { return !m.stamp.Before(start) && !m.stamp.After(end) })},
		{"after-id and before-id", field("after-id", all[20].id) + field("before-id", all[280].id),
			keep(func(i int, _ archived) bool { return i > 20 && i < 280 })},
		{"ids", "<field var='ids'><value>" + all[5].id + "</value><value>" + all[150].id + "</value><value>" + all[299].id + "</value></field>",
			keep(func(i int, _ archived) bool { return i == 5 || i == 150 || i == 299 })},
		{"fulltext", field("{urn:xmpp:fulltext:0}fulltext", "Balcony"), keep(func(_ int, m archived) bool { return strings.Contains(m.body, "balcony") })},
		{"fulltext with an occupant", field("{urn:xmpp:fulltext:0}fulltext", "balcony") + field("with", room+"/romeo"),
			keep(func(_ int, m archived) bool { return strings.Contains(m.body, "balcony") && m.nick == "romeo" })},
	} {
		for _, back := range []bool{false, true} {
			got := pageAll(t, romeo, room, tc.fields, 23, back)
			if !slices.Equal(bodiesOf(got), bodiesOf(tc.want)) {
				t.Errorf("%s (backwards %t): got %d messages %v, want %d", tc.name, back, len(got), bodiesOf(got), len(tc.want))
			}
		}
	}

	// flip-page: the last page, newest first.
	page, fin := mamQuery(t, romeo, room, "", "<max>3</max><before/>", true)
	if fin.Attr("complete") != "false" || !slices.Equal(bodiesOf(page), bodiesOf([]archived{all[299], all[298], all[297]})) {
		t.Fatalf("flipped last page: %v %s", bodiesOf(page), fin)
	}
	// RSM max 0: nothing, incomplete.
	if page, fin := mamQuery(t, romeo, room, "", "<max>0</max>", false); len(page) != 0 || fin.Attr("complete") != "false" {
		t.Fatalf("max 0: %v %s", bodiesOf(page), fin)
	}
}

// XEP-0431 in a room archive: words, phrases, exclusions and scripts
// without spaces; a retracted message is no longer found.
func TestRoomArchiveSearch(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	sent := archiveRoom(t, s, juliet, romeo, 12)
	with := func(bodies ...string) []archived {
		var out []archived
		for _, m := range sent {
			if slices.Contains(bodies, m.body) {
				out = append(out, m)
			}
		}
		return out
	}
	parting, sorrow := "Parting is such sweet sorrow", "sorrow, such sweet parting"
	search := func(text string) []string {
		t.Helper()
		got, _ := mamQuery(t, romeo, room, field("{urn:xmpp:fulltext:0}fulltext", text), "", false)
		return bodiesOf(got)
	}
	for _, tc := range []struct {
		text string
		want []archived
	}{
		{"sorrow", with(parting, sorrow)},
		{"SWEET Sorrow", with(parting, sorrow)},
		{`"sweet sorrow"`, with(parting)},
		{`sorrow -"such sweet parting"`, with(parting)},
		{"天见", with("明天见，晚安")},
		{"晚", with("明天见，晚安")},
		{"balcony", with("line 0 from the balcony", "line 10 from the balcony")},
		{"nightingale", nil},
	} {
		if got := search(tc.text); !slices.Equal(got, bodiesOf(tc.want)) {
			t.Errorf("search %q: got %v, want %v", tc.text, got, bodiesOf(tc.want))
		}
	}
	juliet.Send(moderate("r", with(parting)[0].id, "too sad"))
	juliet.NextNamed("message")
	expectIQ(t, juliet, "r", "result")
	romeo.NextNamed("message")
	if got := search("sorrow"); !slices.Equal(got, bodiesOf(with(sorrow))) {
		t.Errorf("search after a retraction: %v", got)
	}
}

// Bad queries get the errors of XEP-0313 §4.1 and XEP-0059.
func TestRoomArchiveErrors(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	all := archiveRoom(t, s, juliet, romeo, 3)
	for _, tc := range []struct{ fields, set, cond string }{
		{field("start", "yesterday"), "", "bad-request"},
		{field("end", "2024-13-01T00:00:00Z"), "", "bad-request"},
		{field("with", "@"+service), "", "bad-request"},
		{field("after-id", "424242424242"), "", "item-not-found"},
		{field("before-id", "nonsense"), "", "item-not-found"},
		{"<field var='ids'><value>" + all[0].id + "</value><value>424242</value></field>", "", "item-not-found"},
		{field("{urn:xmpp:fulltext:0}fulltext", "-sorrow"), "", "bad-request"},
		{field("colour", "red"), "", "feature-not-implemented"},
		{"", "<max>-1</max>", "bad-request"},
		{"", "<after>x</after>", "item-not-found"},
		{"", "<max>2</max><index>3</index>", "feature-not-implemented"},
		// Real JIDs are not for romeo in a semi-anonymous room.
		{field("with", "juliet@localhost"), "", "forbidden"},
	} {
		q := "<iq type='set' id='bad' to='" + room + "'><query xmlns='" + nsMAM + "'>"
		if tc.fields != "" {
			q += "<x xmlns='jabber:x:data' type='submit'>" + field("FORM_TYPE", nsMAM) + tc.fields + "</x>"
		}
		if tc.set != "" {
			q += "<set xmlns='" + nsRSM + "'>" + tc.set + "</set>"
		}
		romeo.Send(q + "</query></iq>")
		if el := romeo.Next(); el.Name.Local != "iq" || el.Attr("type") != "error" {
			t.Fatalf("query %s %s: got %s, want %s", tc.fields, tc.set, el, tc.cond)
		} else {
			xmpptest.ExpectError(t, el, tc.cond)
		}
	}
	romeo.Send("<iq type='set' id='bad' to='" + room + "'><query xmlns='" + nsMAM + "'><x xmlns='jabber:x:data' type='submit'>" +
		field("FORM_TYPE", "urn:xmpp:mam:1") + "</x></query></iq>")
	xmpptest.ExpectError(t, expectIQ(t, romeo, "bad", "error"), "bad-request")

	// The form lists the fields, full-text search among them.
	romeo.Send("<iq type='get' id='form' to='" + room + "'><query xmlns='" + nsMAM + "'/></iq>")
	form := expectIQ(t, romeo, "form", "result").Child(nsMAM, "query").Child("jabber:x:data", "x")
	if !strings.Contains(form.String(), "{urn:xmpp:fulltext:0}fulltext") {
		t.Fatalf("query form: %s", form)
	}

	// Juliet, a moderator, may filter by and sees real JIDs.
	got, _ := mamQuery(t, juliet, room, field("with", "juliet@localhost"), "", false)
	if len(got) != 2 || got[0].nick != "jul" || got[0].realJID != "juliet@localhost" {
		t.Fatalf("juliet's query with her real JID: %+v", got)
	}
}

// readArchive has c query the archive of name and returns the IQ that
// ends the query, skipping the result messages.
func readArchive(c *xmpptest.Client, name string) *xmlstream.Element {
	c.Send("<iq type='set' id='p' to='" + name + "'><query xmlns='" + nsMAM + "'/></iq>")
	for {
		if el := c.Next(); el.Name.Local == "iq" {
			return el
		}
	}
}

// Whoever may enter the room reads its archive, as an occupant would
// (XEP-0313 §5.1.2): a stranger an open room's; in a members-only room
// only members, and in a password-protected room only occupants and
// members; outcasts never.
func TestRoomArchivePrivacy(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	archiveRoom(t, s, juliet, romeo, 2)
	read := func(c *xmpptest.Client) *xmlstream.Element { return readArchive(c, room) }
	if el := read(nurse); el.Attr("type") != "result" {
		t.Fatalf("a stranger's query of an open room: %s", el)
	}
	closed := "capulet@" + service
	create(t, juliet, closed, "jul")
	configure(t, juliet, closed, field("muc#roomconfig_membersonly", "1"))
	if e := xmpptest.ExpectError(t, readArchive(nurse, closed), "forbidden"); e.Attr("type") != "auth" {
		t.Errorf("a stranger's query of a members-only room: %s, want type auth", e)
	}
	secret := "montague@" + service
	create(t, juliet, secret, "jul")
	configure(t, juliet, secret, field("muc#roomconfig_passwordprotectedroom", "1")+field("muc#roomconfig_roomsecret", "nightingale"))
	xmpptest.ExpectError(t, readArchive(nurse, secret), "forbidden")
	juliet.Send("<iq type='set' id='m' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='nurse@localhost' affiliation='member'/></query></iq>")
	expectIQ(t, juliet, "m", "result")
	if el := read(nurse); el.Attr("type") != "result" {
		t.Fatalf("a member's query: %s", el)
	}
	juliet.Send("<iq type='set' id='o' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item jid='nurse@localhost' affiliation='outcast'/></query></iq>")
	expectIQ(t, juliet, "o", "result")
	xmpptest.ExpectError(t, read(nurse), "forbidden")
	// A non-anonymous room shows everyone the real JIDs.
	configure(t, juliet, room, field("muc#roomconfig_whois", "anyone"), "172")
	romeo.NextNamed("message")
	expectJIDs(t, romeo, map[string]string{"jul": "juliet@localhost/r"})
	got, _ := mamQuery(t, romeo, room, "", "", false)
	if len(got) != 2 || got[0].realJID == "" || !strings.HasSuffix(got[0].realJID, "@localhost") {
		t.Fatalf("archive of a non-anonymous room: %+v", got)
	}
}

// TestRoomArchiveWithoutBody: a message without a body is archived, with
// its stanza id, when it asks to be with <store/> (a reaction, XEP-0444)
// or retracts one (XEP-0424); one without either, or with <no-store/>,
// is not.
func TestRoomArchiveWithoutBody(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	send := func(payload string) *xmlstream.Element {
		t.Helper()
		romeo.Send("<message type='groupchat' to='" + room + "'>" + payload + "</message>")
		romeo.NextNamed("message")
		return juliet.NextNamed("message")
	}
	hi := send("<body>hi</body>")
	id := hi.Child("urn:xmpp:sid:0", "stanza-id").Attr("id")
	kept := []string{
		"<reactions xmlns='urn:xmpp:reactions:0' id='" + id + "'><reaction>👍</reaction></reactions><store xmlns='urn:xmpp:hints'/>",
		"<retract xmlns='urn:xmpp:message-retract:1' id='" + id + "'/>",
	}
	for _, p := range kept {
		if m := send(p); m.Child("urn:xmpp:sid:0", "stanza-id") == nil {
			t.Errorf("%s went out without a stanza id: %s", p, m)
		}
	}
	for _, p := range []string{
		"<active xmlns='http://jabber.org/protocol/chatstates'/>",
		"<reactions xmlns='urn:xmpp:reactions:0' id='" + id + "'><reaction>👎</reaction></reactions><store xmlns='urn:xmpp:hints'/><no-store xmlns='urn:xmpp:hints'/>",
	} {
		if m := send(p); m.Child("urn:xmpp:sid:0", "stanza-id") != nil {
			t.Errorf("%s went out with a stanza id: %s", p, m)
		}
	}
	got, _ := mamQuery(t, juliet, room, "", "", false)
	if len(got) != 1+len(kept) {
		t.Fatalf("the archive holds %d messages, want %d: %v", len(got), 1+len(kept), got)
	}
}

// TestPrivateMessageInSendersArchive: a private message to an occupant is
// in the sender's own archive (XEP-0313 §6.1.1), as in the recipient's,
// and not in the room's.
func TestPrivateMessageInSendersArchive(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	romeo.Send("<message type='chat' to='" + room + "/jul'><body>by yonder moon</body></message>")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), room+"/romeo", "by yonder moon")
	for _, c := range []*xmpptest.Client{romeo, juliet} {
		c.Send("<iq type='set' id='ua'><query xmlns='" + nsMAM + "' queryid='u'/></iq>")
		var n int
		for el := c.Next(); el.Name.Local != "iq"; el = c.Next() {
			n++
		}
		if n != 1 {
			t.Errorf("%s's archive holds %d messages, want the private one", c.JID, n)
		}
	}
	if got, _ := mamQuery(t, juliet, room, "", "", false); len(got) != 0 {
		t.Errorf("the room archive holds %d messages, want none", len(got))
	}
}

// TestRoomArchiveMetadata: a room that announces urn:xmpp:mam:2#extended
// answers <metadata/> with its archive's first and last message (XEP-0313
// §7), and with neither while it is empty.
func TestRoomArchiveMetadata(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	metadata := func() *xmlstream.Element {
		juliet.Send("<iq type='get' id='md' to='" + room + "'><metadata xmlns='" + nsMAM + "'/></iq>")
		return expectIQ(t, juliet, "md", "result").Child(nsMAM, "metadata")
	}
	if md := metadata(); md == nil || len(md.ChildElements()) != 0 {
		t.Fatalf("metadata of an empty archive: %v", md)
	}
	var ids []string
	for _, body := range []string{"first", "last"} {
		romeo.Send("<message type='groupchat' to='" + room + "'><body>" + body + "</body></message>")
		romeo.NextNamed("message")
		ids = append(ids, juliet.NextNamed("message").Child("urn:xmpp:sid:0", "stanza-id").Attr("id"))
	}
	md := metadata()
	for i, end := range []string{"start", "end"} {
		if e := md.Child(nsMAM, end); e == nil || e.Attr("id") != ids[i] || e.Attr("timestamp") == "" {
			t.Fatalf("metadata %s, want %s with id %s", md, end, ids[i])
		}
	}
	// 'end' is inclusive (XEP-0313 §4.1.2): the last message's own stamp
	// finds it.
	end := md.Child(nsMAM, "end").Attr("timestamp")
	if got, _ := mamQuery(t, juliet, room, field("end", end), "", false); len(got) != 2 {
		t.Fatalf("query with end=%s: %d messages, want both", end, len(got))
	}
}
