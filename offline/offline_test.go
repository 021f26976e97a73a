package offline_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/offline"
	"xmppd/storage"
	"xmppd/storage/pgtest"
	"xmppd/storage/postgres"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// start returns a server with the accounts juliet and romeo, and romeo
// logged in (not available: he only sends).
func start(t *testing.T, change ...func(*config.Config)) (*xmpptest.Server, *xmpptest.Client) {
	s := xmpptest.Start(t, change...)
	for _, u := range []string{"juliet", "romeo"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	return s, xmpptest.Login(t, s, "romeo", "secret", "orchard")
}

// expectDelayed checks that el is the message from romeo saying body,
// stamped by the server no later than now.
func expectDelayed(t *testing.T, el *xmlstream.Element, body string) {
	t.Helper()
	xmpptest.ExpectBody(t, el, "romeo@localhost/orchard", body)
	d := el.Child(offline.NSDelay, "delay")
	if d == nil || d.Attr("from") != xmpptest.Domain {
		t.Fatalf("got %s, want a <delay/> from %s", el, xmpptest.Domain)
	}
	stamp, err := time.Parse("2006-01-02T15:04:05.000Z", d.Attr("stamp"))
	if err != nil || stamp.After(time.Now()) || time.Since(stamp) > time.Minute {
		t.Fatalf("delay stamp %q is not a recent UTC time with milliseconds: %v", d.Attr("stamp"), err)
	}
}

// sendAll sends a chat message to to for each body, then waits with a
// ping: an error for any of them would arrive before the ping's result.
func sendAll(c *xmpptest.Client, to string, bodies ...string) {
	c.T.Helper()
	for _, b := range bodies {
		c.Send("<message type='chat' to='" + to + "'><body>" + b + "</body></message>")
	}
	c.Ping()
}

func TestDeliveredOnceInOrderAfterInitialPresence(t *testing.T) {
	s, romeo := start(t)
	// The last one is to a full JID that is not online: RFC 6121 §8.5.3.2.1
	// treats it as sent to the bare JID, so it is stored as well.
	sendAll(romeo, "juliet@localhost", "one", "two")
	sendAll(romeo, "juliet@localhost/gone", "three")

	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	// Binding alone is not enough: messages wait for initial presence.
	juliet.Ping()
	juliet.Online()
	for _, b := range []string{"one", "two", "three"} {
		expectDelayed(t, juliet.NextNamed("message"), b)
	}
	juliet.Ping()

	// A second resource gets nothing again; the first sees its presence.
	nurse := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	nurse.Online()
	nurse.ExpectPresenceFrom("juliet@localhost/balcony")
	nurse.Ping()
	juliet.ExpectPresenceFrom("juliet@localhost/chamber")

	// Now she is online, messages go straight to her, without delay.
	romeo.Send("<message type='chat' to='juliet@localhost'><body>live</body></message>")
	el := juliet.NextNamed("message")
	xmpptest.ExpectBody(t, el, "romeo@localhost/orchard", "live")
	if el.Child(offline.NSDelay, "delay") != nil {
		t.Fatalf("live message %s has a delay", el)
	}
}

// A <delay/> a client wrote as if from the server (XEP-0203) is not
// taken for the server's own: the stored message gets the server's stamp
// of when it was stored, and the client's goes.
func TestClientDelayFromServerReplaced(t *testing.T) {
	s, romeo := start(t)
	romeo.Send("<message type='chat' to='juliet@localhost'><body>back then</body>" +
		"<delay xmlns='" + offline.NSDelay + "' from='" + xmpptest.Domain + "' stamp='2000-01-01T00:00:00Z'/></message>")
	romeo.Ping()
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	el := juliet.NextNamed("message")
	expectDelayed(t, el, "back then")
	delays := 0
	for _, c := range el.ChildElements() {
		if c.Name.Space == offline.NSDelay {
			delays++
		}
	}
	if delays != 1 {
		t.Fatalf("got %s, want only the server's <delay/>", el)
	}
}

func TestSurvivesRestart(t *testing.T) {
	s, romeo := start(t)
	sendAll(romeo, "juliet@localhost", "before the restart")
	s = xmpptest.Restart(t, s)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	expectDelayed(t, juliet.NextNamed("message"), "before the restart")
	juliet.Ping()
}

// XEP-0160 §2: messages go to a resource with non-negative priority only.
func TestNegativePriorityGetsNothing(t *testing.T) {
	s, romeo := start(t)
	sendAll(romeo, "juliet@localhost", "for a real client")
	hidden := xmpptest.Login(t, s, "juliet", "secret", "bot")
	hidden.Send("<presence><priority>-1</priority></presence>")
	hidden.ExpectPresenceFrom("juliet@localhost/bot")
	hidden.Ping()
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.ExpectPresenceFrom("juliet@localhost/bot")
	expectDelayed(t, juliet.NextNamed("message"), "for a real client")
}

// Two resources coming online together get each message once between
// them (the first to flush gets all of them: TestTwoResourcesDoNotSplitTheBacklog).
func TestConcurrentLoginsDoNotDuplicate(t *testing.T) {
	s, romeo := start(t)
	var want []string
	for i := range 20 {
		want = append(want, strconv.Itoa(i))
	}
	sendAll(romeo, "juliet@localhost", want...)
	a := xmpptest.Login(t, s, "juliet", "secret", "a")
	b := xmpptest.Login(t, s, "juliet", "secret", "b")
	a.Send("<presence/>")
	b.Send("<presence/>")
	var got []string
	for _, c := range []*xmpptest.Client{a, b} {
		c.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		for {
			el := c.Next()
			if el.Name.Local == "iq" {
				break
			}
			if el.Name.Local == "message" {
				got = append(got, el.Child("jabber:client", "body").Text())
			}
		}
	}
	slices.SortFunc(got, func(x, y string) int { i, _ := strconv.Atoi(x); j, _ := strconv.Atoi(y); return i - j })
	if !slices.Equal(got, want) {
		t.Fatalf("the two resources got %q; want each of %q once", got, want)
	}
}

// smLogin logs juliet in on resource with stream management, which does
// not acknowledge anything until told to.
func smLogin(t *testing.T, s *xmpptest.Server, resource string) *xmpptest.SM {
	sm := xmpptest.LoginSM(t, s, "juliet", "secret", resource)
	sm.AutoAck = false
	return sm
}

// smPing sends a ping on a stream-managed stream and waits for its answer.
func smPing(sm *xmpptest.SM) {
	sm.C.T.Helper()
	sm.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := sm.Next(); el.Name.Local != "iq" || el.Attr("type") != "result" {
		sm.C.T.Fatalf("got %s, want the ping result", el)
	}
}

// stored returns how many offline messages juliet has in the database.
func stored(t *testing.T, s *xmpptest.Server) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow(context.Background(), `SELECT count(*) FROM offline_messages WHERE username = 'juliet'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A stream-managed client has its offline messages only once it has
// acknowledged them: until then they stay stored (so that a crash of the
// server loses nothing; internal/chaos kills it), and a resource coming
// online meanwhile does not get them too.
func TestKeptUntilAcknowledged(t *testing.T) {
	s, romeo := start(t)
	sendAll(romeo, "juliet@localhost", "one", "two", "three")
	juliet := smLogin(t, s, "balcony")
	juliet.Send("<presence/>")
	if el := juliet.Next(); el.Name.Local != "presence" {
		t.Fatalf("got %s, want her own presence", el)
	}
	for _, b := range []string{"one", "two", "three"} {
		expectDelayed(t, juliet.Next(), b)
	}
	smPing(juliet)
	if n := stored(t, s); n != 3 {
		t.Fatalf("%d messages stored before the acknowledgement; want 3", n)
	}

	nurse := xmpptest.Login(t, s, "juliet", "secret", "chamber")
	nurse.Online()
	nurse.ExpectPresenceFrom("juliet@localhost/balcony")
	nurse.Ping() // fails on a message before the ping's result
	if el := juliet.Next(); el.Name.Local != "presence" || el.Attr("from") != "juliet@localhost/chamber" {
		t.Fatalf("got %s, want presence from the second resource", el)
	}

	juliet.Ack()
	smPing(juliet) // the acknowledgement was handled before the ping
	if n := stored(t, s); n != 0 {
		t.Fatalf("%d messages stored after the acknowledgement; want 0", n)
	}
}

// Messages a stream-managed session had not acknowledged when it ended
// are routed again, here into storage, and the next login gets each of
// them once. The account's quota is full with them: while they are
// claimed they do not count.
func TestUnacknowledgedComeBackOnce(t *testing.T) {
	s, romeo := start(t, func(c *config.Config) { c.Offline.Quota = 2 })
	sendAll(romeo, "juliet@localhost", "one", "two")
	juliet := smLogin(t, s, "balcony")
	juliet.Send("<presence/>")
	juliet.Next() // her own presence
	expectDelayed(t, juliet.Next(), "one")
	expectDelayed(t, juliet.Next(), "two")
	smPing(juliet)

	s = xmpptest.Restart(t, s) // returns once every session has ended
	if n := stored(t, s); n != 2 {
		t.Fatalf("%d messages stored after the session ended unacknowledged; want 2", n)
	}
	again := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	again.Online()
	expectDelayed(t, again.NextNamed("message"), "one")
	expectDelayed(t, again.NextNamed("message"), "two")
	again.Ping()
	if n := stored(t, s); n != 0 {
		t.Fatalf("%d messages stored after a login without stream management took them; want 0", n)
	}
}

// An offline message a stream-managed session had not acknowledged when
// it ended goes to another resource, and stays stored until that one
// acknowledges it.
func TestUnacknowledgedMoveToAnotherResource(t *testing.T) {
	s, romeo := start(t)
	sendAll(romeo, "juliet@localhost", "one")
	balcony := smLogin(t, s, "balcony")
	balcony.Send("<presence/>")
	balcony.Next() // her own presence
	expectDelayed(t, balcony.Next(), "one")
	smPing(balcony)

	chamber := smLogin(t, s, "chamber")
	chamber.Send("<presence/>")
	for range 2 { // her own presence and the other resource's
		if el := chamber.Next(); el.Name.Local != "presence" {
			t.Fatalf("got %s, want presence", el)
		}
	}
	smPing(chamber) // claimed by the first session: not delivered again

	balcony.C.Send("</stream:stream>")
	if el := chamber.Next(); el.Name.Local != "presence" || el.Attr("type") != "unavailable" {
		t.Fatalf("got %s, want the first resource's unavailable presence", el)
	}
	expectDelayed(t, chamber.Next(), "one")
	smPing(chamber)
	if n := stored(t, s); n != 1 {
		t.Fatalf("%d messages stored before the second resource acknowledged; want 1", n)
	}
	chamber.Ack()
	smPing(chamber)
	if n := stored(t, s); n != 0 {
		t.Fatalf("%d messages stored after the acknowledgement; want 0", n)
	}
}

func TestWhatIsNotStored(t *testing.T) {
	s, romeo := start(t)
	tests := []struct {
		name, send string
		condition  string // "" for no error
	}{
		{"no-store hint", "<message type='chat' to='juliet@localhost' id='x'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>", "service-unavailable"},
		{"chat state only", "<message type='chat' to='juliet@localhost' id='x'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", ""},
		{"chat state with no-store", "<message type='chat' to='juliet@localhost' id='x'><active xmlns='http://jabber.org/protocol/chatstates'/><no-store xmlns='urn:xmpp:hints'/></message>", ""},
		{"chat state with thread", "<message type='chat' to='juliet@localhost' id='x'><thread>t1</thread><paused xmlns='http://jabber.org/protocol/chatstates'/></message>", ""},
		{"headline", "<message type='headline' to='juliet@localhost' id='x'><body>news</body></message>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			romeo.Send(tt.send)
			if tt.condition != "" {
				reply := romeo.NextNamed("message")
				xmpptest.ExpectError(t, reply, tt.condition)
				if reply.Attr("id") != "x" {
					t.Errorf("error reply %s does not answer x", reply)
				}
			}
			romeo.Ping()
		})
	}
	// XEP-0334 <store/> keeps even a chat state.
	romeo.Send("<message type='chat' to='juliet@localhost'><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>")
	sendAll(romeo, "juliet@localhost", "stored")

	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	el := juliet.NextNamed("message")
	if el.Child("http://jabber.org/protocol/chatstates", "gone") == nil || el.Child(offline.NSDelay, "delay") == nil {
		t.Fatalf("got %s, want the <gone/> kept by the store hint", el)
	}
	expectDelayed(t, juliet.NextNamed("message"), "stored")
	juliet.Ping() // and nothing else
}

func TestQuota(t *testing.T) {
	s, romeo := start(t)
	ctx := context.Background()
	pool, err := storage.Open(ctx, s.Config.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Fill her storage directly: faster than over the wire, same rows.
	store := postgres.NewOffline(pool)
	for i := range offline.DefaultQuota - 1 {
		msg := fmt.Sprintf("<message xmlns='jabber:client' from='romeo@localhost/orchard' to='juliet@localhost' type='chat'><body>%d</body></message>", i)
		if err := store.Add(ctx, "localhost", "juliet", []byte(msg), 0, offline.DefaultQuota); err != nil {
			t.Fatal(err)
		}
	}
	sendAll(romeo, "juliet@localhost", "the last that fits")
	romeo.Send("<message type='chat' to='juliet@localhost' id='full'><body>one too many</body></message>")
	reply := romeo.NextNamed("message")
	e := xmpptest.ExpectError(t, reply, "service-unavailable")
	if txt := e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "text"); txt == nil || txt.Text() != "offline storage is full" {
		t.Errorf("error %s does not say the storage is full", e)
	}

	// All of them arrive at login, in order, through a session queue of
	// the same size as the quota.
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	for i := range offline.DefaultQuota - 1 {
		expectDelayed(t, juliet.NextNamed("message"), strconv.Itoa(i))
	}
	expectDelayed(t, juliet.NextNamed("message"), "the last that fits")
	juliet.Ping()
}

func TestDeletedAccountLosesItsMessages(t *testing.T) {
	s, romeo := start(t)
	sendAll(romeo, "juliet@localhost", "for the old juliet")
	if err := s.Accounts.Delete(context.Background(), xmpptest.Domain, "juliet"); err != nil {
		t.Fatal(err)
	}
	romeo.Send("<message type='chat' to='juliet@localhost' id='gone'><body>anyone?</body></message>")
	xmpptest.ExpectError(t, romeo.NextNamed("message"), "service-unavailable")

	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.Ping() // nothing stored for the new account
}

func TestDiscoFeature(t *testing.T) {
	_, romeo := start(t)
	romeo.Send("<iq type='get' id='d' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := romeo.NextNamed("iq").Child("http://jabber.org/protocol/disco#info", "query")
	for _, f := range q.ChildElements() {
		if f.Name.Local == "feature" && f.Attr("var") == offline.Feature {
			return
		}
	}
	t.Fatalf("disco#info %s lacks %s", q, offline.Feature)
}

// A <priority/> with white space around a negative number is as negative
// as one without (an xs:byte, RFC 6121 §4.7.2.3): the resource gets none
// of the stored messages (XEP-0160 §2), and a message stored while it is
// online waits for a resource with a non-negative priority.
func TestSpacedNegativePriorityGetsNothing(t *testing.T) {
	s, romeo := start(t)
	sendAll(romeo, "juliet@localhost", "for a real client")
	hidden := xmpptest.Login(t, s, "juliet", "secret", "bot")
	hidden.Send("<presence><priority>\n  -1 </priority></presence>")
	hidden.ExpectPresenceFrom("juliet@localhost/bot")
	hidden.Ping()
	sendAll(romeo, "juliet@localhost", "while the bot is online")
	hidden.Ping()
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	juliet.ExpectPresenceFrom("juliet@localhost/bot")
	expectDelayed(t, juliet.NextNamed("message"), "for a real client")
	expectDelayed(t, juliet.NextNamed("message"), "while the bot is online")
}

// A <delay/> that another server (or a component) wrote as if from this
// server is not taken for offline storage's own stamp (XEP-0203,
// XEP-0160 §2): the stored message gets the server's stamp of when it
// was stored, and the forged one goes.
func TestRemoteDelayFromServerReplaced(t *testing.T) {
	s, _ := start(t)
	m := xmlstream.NewElement("jabber:client", "message", "from", "mercutio@remote.example/x", "to", "juliet@localhost", "type", "chat")
	m.AddChild(xmlstream.NewElement("jabber:client", "body").AddText("long ago"))
	m.AddChild(xmlstream.NewElement(offline.NSDelay, "delay", "from", xmpptest.Domain, "stamp", "2000-01-01T00:00:00Z"))
	s.Router().Route(context.Background(), m)

	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	el := juliet.NextNamed("message")
	xmpptest.ExpectBody(t, el, "mercutio@remote.example/x", "long ago")
	var stamps []string
	for _, c := range el.ChildElements() {
		if c.Name.Space == offline.NSDelay {
			stamps = append(stamps, c.Attr("stamp"))
		}
	}
	if len(stamps) != 1 || stamps[0] == "2000-01-01T00:00:00Z" {
		t.Fatalf("got %s, want only the server's own <delay/> of when it stored the message", el)
	}
}
