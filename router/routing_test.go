package router_test

import (
	"context"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// start returns a server with the accounts juliet, romeo and nurse.
func start(t *testing.T) *xmpptest.Server {
	s := xmpptest.Start(t)
	for _, u := range []string{"juliet", "romeo", "nurse"} {
		s.AddUser(t, u, xmpptest.Domain, "secret")
	}
	return s
}

func TestMessageToFullJID(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	// Delivery to a full JID does not need available presence.
	romeo.Send("<message to='juliet@localhost/balcony' type='chat' id='m1'><body>Lady, by yonder blessed moon</body></message>")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), "romeo@localhost/orchard", "Lady, by yonder blessed moon")
}

// RFC 6121 §8.5.2.1.1: a message to the bare JID goes to the available
// resources with the highest non-negative priority.
func TestMessageToBareJIDPicksHighestPriority(t *testing.T) {
	s := start(t)
	low := xmpptest.Login(t, s, "juliet", "secret", "low")
	low.Send("<presence><priority>1</priority></presence>")
	low.ExpectPresenceFrom("juliet@localhost/low")
	high := xmpptest.Login(t, s, "juliet", "secret", "high")
	high.Send("<presence><priority>5</priority></presence>")
	high.ExpectPresenceFrom("juliet@localhost/high") // its own reflection, then the others'
	high.ExpectPresenceFrom("juliet@localhost/low")
	low.ExpectPresenceFrom("juliet@localhost/high")
	negative := xmpptest.Login(t, s, "juliet", "secret", "negative")
	negative.Send("<presence><priority>-1</priority></presence>")
	negative.ExpectPresenceFrom("juliet@localhost/negative")
	negative.ExpectPresenceFrom("juliet@localhost/low")
	negative.ExpectPresenceFrom("juliet@localhost/high")
	low.ExpectPresenceFrom("juliet@localhost/negative")
	high.ExpectPresenceFrom("juliet@localhost/negative")

	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<message to='juliet@localhost' type='chat'><body>to the best one</body></message>")
	xmpptest.ExpectBody(t, high.NextNamed("message"), "romeo@localhost/orchard", "to the best one")
	// The others got nothing: their next stanza is the one sent to them now.
	romeo.Send("<message to='juliet@localhost/low' type='chat'><body>marker</body></message>")
	xmpptest.ExpectBody(t, low.NextNamed("message"), "romeo@localhost/orchard", "marker")
	romeo.Send("<message to='juliet@localhost/negative' type='chat'><body>marker</body></message>")
	xmpptest.ExpectBody(t, negative.NextNamed("message"), "romeo@localhost/orchard", "marker")

	// Equal highest priority: both get it.
	low.Send("<presence><priority>5</priority></presence>")
	for _, c := range []*xmpptest.Client{low, high, negative} {
		c.ExpectPresenceFrom("juliet@localhost/low")
	}
	romeo.Send("<message to='juliet@localhost' type='chat'><body>to both</body></message>")
	xmpptest.ExpectBody(t, high.NextNamed("message"), "romeo@localhost/orchard", "to both")
	xmpptest.ExpectBody(t, low.NextNamed("message"), "romeo@localhost/orchard", "to both")
}

// RFC 6121 §8.5.3.2.1: a message to an unknown full JID is treated as if
// sent to the bare JID.
func TestMessageToOfflineResourceFallsBackToBare(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<message to='juliet@localhost/gone' type='chat'><body>anyone?</body></message>")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), "romeo@localhost/orchard", "anyone?")
}

func TestMessageErrors(t *testing.T) {
	s := start(t)
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	tests := []struct {
		name, send, condition string
	}{
		{"no such account", "<message to='tybalt@localhost' type='chat' id='x'><body>hi</body></message>", "service-unavailable"},
		{"account offline, not to be stored", "<message to='juliet@localhost' type='chat' id='x'><body>hi</body><no-store xmlns='urn:xmpp:hints'/></message>", "service-unavailable"},
		{"remote domain", "<message to='someone@elsewhere.example' type='chat' id='x'><body>hi</body></message>", "remote-server-not-found"},
		{"malformed to", "<message to='a@b@c' type='chat' id='x'><body>hi</body></message>", "jid-malformed"},
		{"bad type", "<message to='juliet@localhost' type='shout' id='x'><body>hi</body></message>", "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			romeo.Send(tt.send)
			reply := romeo.NextNamed("message")
			xmpptest.ExpectError(t, reply, tt.condition)
			if reply.Attr("id") != "x" || reply.Attr("to") != "romeo@localhost/orchard" {
				t.Errorf("error reply addressed wrongly: %s", reply)
			}
		})
	}
}

func TestServerIQs(t *testing.T) {
	s := start(t)
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	tests := []struct {
		name, send string
		check      func(t *testing.T, reply *xmlstream.Element)
	}{
		{"disco info", "<iq type='get' id='q' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", func(t *testing.T, r *xmlstream.Element) {
			q := r.Child("http://jabber.org/protocol/disco#info", "query")
			var features []string
			for _, c := range q.ChildElements() {
				if c.Name.Local == "feature" {
					features = append(features, c.Attr("var"))
				}
			}
			for _, want := range []string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time"} {
				if !strings.Contains(strings.Join(features, " "), want) {
					t.Errorf("feature %s missing from %v", want, features)
				}
			}
			if id := q.Child("", "identity"); id == nil || id.Attr("category") != "server" || id.Attr("type") != "im" {
				t.Errorf("identity: %s", q)
			}
		}},
		{"disco items", "<iq type='get' id='q' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>", func(t *testing.T, r *xmlstream.Element) {
			q := r.Child("http://jabber.org/protocol/disco#items", "query")
			if q == nil {
				t.Fatal("no items query in result")
			}
			// The multi-user chat and upload services are found from the server.
			if items := q.ChildElements(); len(items) != 2 || items[0].Attr("jid") != "conference.localhost" || items[1].Attr("jid") != "upload.localhost" {
				t.Errorf("items = %s, want conference.localhost and upload.localhost", q)
			}
		}},
		{"ping", "<iq type='get' id='q' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", nil},
		{"ping own account", "<iq type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>", nil},
		{"version", "<iq type='get' id='q' to='localhost'><query xmlns='jabber:iq:version'/></iq>", func(t *testing.T, r *xmlstream.Element) {
			q := r.Child("jabber:iq:version", "query")
			if q.Child("", "name").Text() != "xmppd" || q.Child("", "version").Text() == "" {
				t.Errorf("version: %s", q)
			}
		}},
		{"time", "<iq type='get' id='q' to='localhost'><time xmlns='urn:xmpp:time'/></iq>", func(t *testing.T, r *xmlstream.Element) {
			q := r.Child("urn:xmpp:time", "time")
			if q.Child("", "tzo") == nil || !strings.HasSuffix(q.Child("", "utc").Text(), "Z") {
				t.Errorf("time: %s", q)
			}
		}},
		{"legacy session", "<iq type='set' id='q'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			romeo.Send(tt.send)
			r := romeo.NextNamed("iq")
			if r.Attr("type") != "result" || r.Attr("id") != "q" || r.Attr("to") != "romeo@localhost/orchard" {
				t.Fatalf("got %s, want a result", r)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestIQErrors(t *testing.T) {
	s := start(t)
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	tests := []struct {
		name, send, condition string
	}{
		{"unknown payload to server", "<iq type='get' id='q' to='localhost'><query xmlns='urn:example:nope'/></iq>", "service-unavailable"},
		{"unknown payload to account", "<iq type='get' id='q' to='juliet@localhost'><query xmlns='urn:example:nope'/></iq>", "service-unavailable"},
		{"to offline full JID", "<iq type='get' id='q' to='juliet@localhost/gone'><ping xmlns='urn:xmpp:ping'/></iq>", "service-unavailable"},
		{"to unknown account", "<iq type='get' id='q' to='tybalt@localhost'><ping xmlns='urn:xmpp:ping'/></iq>", "service-unavailable"},
		{"two payloads", "<iq type='get' id='q' to='localhost'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>", "bad-request"},
		{"no payload", "<iq type='get' id='q' to='localhost'/>", "bad-request"},
		{"bad type", "<iq type='fetch' id='q' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>", "bad-request"},
		{"remote", "<iq type='get' id='q' to='elsewhere.example'><ping xmlns='urn:xmpp:ping'/></iq>", "remote-server-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			romeo.Send(tt.send)
			r := romeo.NextNamed("iq")
			xmpptest.ExpectError(t, r, tt.condition)
			if r.Attr("id") != "q" {
				t.Errorf("error without the request's id: %s", r)
			}
		})
	}
	// An IQ without an id cannot be answered by id, but still gets an error.
	romeo.Send("<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	xmpptest.ExpectError(t, romeo.NextNamed("iq"), "bad-request")
}

// RFC 6120 §8.1.2.1, §10.3.3: an IQ without 'to' is handled on behalf of
// the sender's account, and what the server answers for the account,
// errors too, comes from its bare JID (or without 'from'), never from the
// domain, which clients that match replies to requests do not accept.
// The carbons commands of XEP-0280 are sent so.
func TestIQErrorsToOwnAccount(t *testing.T) {
	s := start(t)
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	for _, tt := range []struct {
		name, send, condition string
	}{
		{"unknown payload", "<iq type='get' id='q'><query xmlns='urn:example:nope'/></iq>", "service-unavailable"},
		{"known payload, wrong type", "<iq type='get' id='q'><enable xmlns='urn:xmpp:carbons:2'/></iq>", "service-unavailable"},
		{"two payloads", "<iq type='set' id='q'><enable xmlns='urn:xmpp:carbons:2'/><disable xmlns='urn:xmpp:carbons:2'/></iq>", "bad-request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			romeo.Send(tt.send)
			r := romeo.NextNamed("iq")
			xmpptest.ExpectError(t, r, tt.condition)
			if from := r.Attr("from"); from != "" && from != "romeo@localhost" {
				t.Errorf("error %s from %q, want from romeo@localhost or none", r, from)
			}
		})
	}
}

func TestIQBetweenClients(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<iq type='get' id='v1' to='juliet@localhost/balcony'><query xmlns='jabber:iq:version'/></iq>")
	req := juliet.NextNamed("iq")
	if req.Attr("from") != "romeo@localhost/orchard" || req.Attr("id") != "v1" {
		t.Fatalf("juliet got %s", req)
	}
	juliet.Send("<iq type='result' id='v1' to='romeo@localhost/orchard'><query xmlns='jabber:iq:version'><name>balcony-client</name></query></iq>")
	res := romeo.NextNamed("iq")
	if res.Attr("from") != "juliet@localhost/balcony" || res.Attr("type") != "result" {
		t.Fatalf("romeo got %s", res)
	}
}

// RFC 6121 §4.2 and §4.5: presence is reflected to all of the account's
// resources; when a session ends, the others see it go unavailable, also
// when the connection just drops.
func TestPresenceOfOwnResources(t *testing.T) {
	s := start(t)
	phone := xmpptest.Login(t, s, "juliet", "secret", "phone")
	phone.Online()
	laptop := xmpptest.Login(t, s, "juliet", "secret", "laptop")
	laptop.Send("<presence><show>away</show></presence>")
	if p := laptop.ExpectPresenceFrom("juliet@localhost/laptop"); p.Child("jabber:client", "show").Text() != "away" {
		t.Errorf("reflected presence lost its show: %s", p)
	}
	if p := laptop.ExpectPresenceFrom("juliet@localhost/phone"); p.Attr("to") != "juliet@localhost/laptop" {
		t.Errorf("other resource's presence not addressed to the new one: %s", p)
	}
	phone.ExpectPresenceFrom("juliet@localhost/laptop")

	laptop.Conn.Close() // no </stream:stream>
	if p := phone.ExpectPresenceFrom("juliet@localhost/laptop"); p.Attr("type") != "unavailable" {
		t.Fatalf("got %s, want unavailable", p)
	}

	tablet := xmpptest.Login(t, s, "juliet", "secret", "tablet")
	tablet.Online()
	tablet.ExpectPresenceFrom("juliet@localhost/phone")
	phone.ExpectPresenceFrom("juliet@localhost/tablet")
	tablet.Send("<presence type='unavailable'/>")
	if p := tablet.ExpectPresenceFrom("juliet@localhost/tablet"); p.Attr("type") != "unavailable" {
		t.Fatalf("own unavailable not reflected: %s", p)
	}
	if p := phone.ExpectPresenceFrom("juliet@localhost/tablet"); p.Attr("type") != "unavailable" {
		t.Fatalf("got %s, want unavailable", p)
	}
	// Unavailable now: a message to the bare JID goes to the phone only.
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<message to='juliet@localhost' type='chat'><body>hello</body></message>")
	xmpptest.ExpectBody(t, phone.NextNamed("message"), "romeo@localhost/orchard", "hello")
}

func TestPresenceErrors(t *testing.T) {
	s := start(t)
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<presence id='p'><priority>high</priority></presence>")
	xmpptest.ExpectError(t, romeo.NextNamed("presence"), "bad-request")
	romeo.Send("<presence id='p' type='dance'/>")
	xmpptest.ExpectError(t, romeo.NextNamed("presence"), "bad-request")
}

// RFC 6121 §5.2.2: a message of a type the server does not understand,
// as another server may send, is handled as one of type normal: to the
// bare JID, and to a full JID that is not online, it reaches the
// account's available resource.
func TestMessageOfUnknownType(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	for _, to := range []string{"juliet@localhost", "juliet@localhost/gone"} {
		m := xmlstream.NewElement("jabber:client", "message", "from", "mercutio@remote.example/x", "to", to, "type", "urgent")
		m.AddChild(xmlstream.NewElement("jabber:client", "body").AddText("to " + to))
		s.Router().Route(context.Background(), m)
		xmpptest.ExpectBody(t, juliet.NextNamed("message"), "mercutio@remote.example/x", "to "+to)
	}
}

// RFC 6121 §8.5.3.2.1: a headline to a resource that is not online is
// dropped, not delivered to the account's other resources.
func TestHeadlineToOfflineResource(t *testing.T) {
	s := start(t)
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<message to='juliet@localhost/gone' type='headline'><body>for gone alone</body></message>")
	romeo.Send("<message to='juliet@localhost/balcony' type='chat'><body>marker</body></message>")
	xmpptest.ExpectBody(t, juliet.NextNamed("message"), "romeo@localhost/orchard", "marker")
}

// RFC 6120 §10.3.1: a message without 'to' is treated as if addressed to
// the sender's bare JID: it reaches the account's available resource,
// and an error about it comes from that bare JID, not from the domain.
func TestMessageWithoutToIsForOwnBareJID(t *testing.T) {
	s := start(t)
	phone := xmpptest.Login(t, s, "romeo", "secret", "phone")
	phone.Online()
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Send("<message type='chat' id='n1'><body>note to self</body></message>")
	xmpptest.ExpectBody(t, phone.NextNamed("message"), "romeo@localhost/orchard", "note to self")

	romeo.Send("<message type='groupchat' id='g1'><body>not a room</body></message>")
	r := romeo.NextNamed("message")
	xmpptest.ExpectError(t, r, "service-unavailable")
	if from := r.Attr("from"); from != "romeo@localhost" {
		t.Errorf("error %s from %q, want from romeo@localhost", r, from)
	}
}
