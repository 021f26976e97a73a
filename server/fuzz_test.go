package server_test

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// fuzzTargets are the addresses FuzzIQ and FuzzStanza send to, by the fuzzer's index:
// the client's own account, the server, another account (offline, so the
// server answers for it), one of its resources, and the services.
var fuzzTargets = []string{
	"",
	xmpptest.Domain,
	"romeo@" + xmpptest.Domain,
	"romeo@" + xmpptest.Domain + "/desk",
	"conference." + xmpptest.Domain,
	"room@conference." + xmpptest.Domain,
	"upload." + xmpptest.Domain,
	"proxy." + xmpptest.Domain,
	xmpptest.OtherDomain,
	xmpptest.Domain + "/resource",
}

// iqTypes are the IQ types FuzzIQ sends, by the fuzzer's index.
var iqTypes = []string{"get", "set", "result", "error"}

// FuzzIQ sends a logged-in client's IQs with any payload to every kind
// of address the server answers for. A get or set must be answered once,
// with a result or an RFC 6120 §8.3 error whose condition is defined and
// not internal-server-error (the database is healthy: that answer would
// be input the server failed to check); a result or error must not be
// answered at all (RFC 6120 §8.2.3); the session must go on working; and
// the server must log no error.
func FuzzIQ(f *testing.F) {
	seeds := []struct {
		typ, to uint8
		payload string
	}{
		{0, 0, "<query xmlns='jabber:iq:roster'/>"},
		{1, 0, "<query xmlns='jabber:iq:roster'><item jid='romeo@localhost' name='Romeo'><group>Friends</group></item></query>"},
		{1, 0, "<query xmlns='jabber:iq:roster'><item jid='romeo@localhost' subscription='remove'/></query>"},
		{0, 0, "<vCard xmlns='vcard-temp'/>"},
		{1, 0, "<vCard xmlns='vcard-temp'><FN>Juliet</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>aGk=</BINVAL></PHOTO></vCard>"},
		{0, 2, "<vCard xmlns='vcard-temp'/>"},
		{0, 0, "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>"},
		{1, 0, "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='room@conference.localhost' autojoin='true'><nick>j</nick></conference></storage></query>"},
		{1, 0, "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='room@conference.localhost'><conference xmlns='urn:xmpp:bookmarks:1' autojoin='true'/></item></publish>" +
			"<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
			"<field var='pubsub#persist_items'><value>true</value></field><field var='pubsub#access_model'><value>whitelist</value></field><field var='pubsub#max_items'><value>max</value></field></x></publish-options></pubsub>"},
		{1, 0, "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:avatar:metadata'><item id='a'><metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='2' id='a' type='image/png'/></metadata></item></publish></pubsub>"},
		{0, 2, "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:metadata' max_items='1'/></pubsub>"},
		{1, 0, "<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='urn:xmpp:avatar:metadata' notify='true'><item id='a'/></retract></pubsub>"},
		{0, 0, "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:xmpp:avatar:metadata'/></pubsub>"},
		{1, 0, "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='urn:xmpp:avatar:metadata'/></pubsub>"},
		{1, 0, "<query xmlns='urn:xmpp:mam:2' queryid='q'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>" +
			"<field var='with'><value>romeo@localhost</value></field><field var='start'><value>2020-01-01T00:00:00Z</value></field>" +
			"<field var='{urn:xmpp:fulltext:0}fulltext'><value>hello world</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>5</max><before/></set></query>"},
		{0, 0, "<metadata xmlns='urn:xmpp:mam:2'/>"},
		{1, 0, "<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>romeo@localhost</jid></always><never/></prefs>"},
		{1, 5, "<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>10</max><after>12</after></set></query>"},
		{0, 0, "<blocklist xmlns='urn:xmpp:blocking'/>"},
		{1, 0, "<block xmlns='urn:xmpp:blocking'><item jid='spam@example.test'><report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'><text>buy</text></report></item></block>"},
		{1, 0, "<unblock xmlns='urn:xmpp:blocking'/>"},
		{1, 0, "<enable xmlns='urn:xmpp:carbons:2'/>"},
		{1, 0, "<enable xmlns='urn:xmpp:push:0' jid='push.example.test' node='n'/>"},
		{1, 0, "<disable xmlns='urn:xmpp:push:0' jid='push.example.test'/>"},
		{1, 1, "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>"},
		{1, 1, "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>again</resource></bind>"},
		{0, 2, "<query xmlns='jabber:iq:last'/>"},
		{0, 1, "<query xmlns='jabber:iq:version'/>"},
		{0, 1, "<time xmlns='urn:xmpp:time'/>"},
		{0, 1, "<ping xmlns='urn:xmpp:ping'/>"},
		{0, 1, "<query xmlns='http://jabber.org/protocol/disco#info' node='http://jabber.org/protocol/commands'/>"},
		{0, 4, "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>1</max></set></query>"},
		{0, 0, "<query xmlns='http://jabber.org/protocol/disco#items' node='urn:xmpp:avatar:metadata'/>"},
		{1, 1, "<command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/admin#get-online-users' action='execute'/>"},
		{1, 1, "<command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp:invite#invite' action='execute'/>"},
		{1, 1, "<command xmlns='http://jabber.org/protocol/commands' node='x' sessionid='nope' action='complete'><x xmlns='jabber:x:data' type='submit'/></command>"},
		{0, 6, "<request xmlns='urn:xmpp:http:upload:0' filename='a.txt' size='10' content-type='text/plain'/>"},
		{0, 7, "<query xmlns='http://jabber.org/protocol/bytestreams'/>"},
		{1, 7, "<query xmlns='http://jabber.org/protocol/bytestreams' sid='s'><activate>romeo@localhost/desk</activate></query>"},
		{0, 1, "<services xmlns='urn:xmpp:extdisco:2' type='stun'/>"},
		{0, 5, "<query xmlns='http://jabber.org/protocol/muc#owner'/>"},
		{1, 5, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>"},
		{1, 5, "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='x' role='none'><reason>r</reason></item></query>"},
		{0, 5, "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='owner'/></query>"},
		{0, 4, "<unique xmlns='http://jabber.org/protocol/muc#unique'/>"},
		{0, 5, "<query xmlns='jabber:iq:register'/>"},
		{0, 5, "<vCard xmlns='vcard-temp'/>"},
		{1, 0, "<query xmlns='jabber:iq:privacy'><active name='x'/></query>"},
		{0, 3, "<query xmlns='urn:example:unknown'/>"},
		{0, 9, "<ping xmlns='urn:xmpp:ping'/>"},
		{2, 1, "<query xmlns='jabber:iq:version'/>"},
		{3, 2, "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.to, s.payload)
	}
	c, logged := fuzzSession(f)
	n := 0
	f.Fuzz(func(t *testing.T, typ, to uint8, payload string) {
		if !oneElement(payload) {
			return // the stream would end, as it must
		}
		target := fuzzTargets[int(to)%len(fuzzTargets)]
		if strings.Contains(payload, "jabber:iq:register") && !strings.Contains(target, "@conference.") {
			return // may remove the account or change its password
		}
		c.T = t
		n++
		id := "fz" + strconv.Itoa(n)
		kind := iqTypes[int(typ)%len(iqTypes)]
		iq := "<iq type='" + kind + "' id='" + id + "'"
		if target != "" {
			iq += " to='" + target + "'"
		}
		sent := iq + ">" + payload + "</iq>"
		c.Send(sent)
		// After the answer, or at once when none is due, a barrier: one
		// more answer to id would come before the barrier's.
		barrier := "<iq type='get' id='" + id + "b' to='" + xmpptest.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"
		answered := kind == "result" || kind == "error"
		if answered {
			c.Send(barrier)
		}
		for {
			el, err := c.NextErr()
			if err != nil {
				t.Fatalf("%s: the stream ended: %v", sent, err)
			}
			if el.Name.Local != "iq" {
				continue
			}
			switch el.Attr("id") {
			case id:
				if answered {
					t.Fatalf("%s: answered again, or a %s answered: %s", sent, kind, el)
				}
				answered = true
				checkAnswer(t, sent, el)
				c.Send(barrier)
				continue
			case id + "b":
				if !answered {
					t.Fatalf("%s: not answered", sent)
				}
				checkLogged(t, sent, logged)
				return
			}
			if el.Attr("type") == "get" || el.Attr("type") == "set" {
				continue // a roster push, say
			}
			t.Fatalf("%s: unexpected %s", sent, el)
		}
	})
}

// stanzaTypes are the types FuzzStanza gives messages (kind 0) and
// presence (kind 1), by the fuzzer's index.
var stanzaTypes = [2][]string{
	{"", "chat", "normal", "groupchat", "headline", "error"},
	{"", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error"},
}

// FuzzStanza sends a logged-in client's messages and presence with any
// payload to the addresses of FuzzIQ. Whatever the server or a module
// answers must be a well-formed error (see checkError), an error stanza
// must not be answered at all (RFC 6120 §8.3.1), the session must go on
// working, and the server must log no error.
func FuzzStanza(f *testing.F) {
	seeds := []struct {
		kind, typ, to uint8
		payload       string
	}{
		{0, 1, 2, "<body>hello</body>"},
		{0, 1, 3, "<request xmlns='urn:xmpp:receipts'/>"},
		{0, 1, 2, "<replace xmlns='urn:xmpp:message-correct:0' id='x'/>"},
		{0, 1, 2, "<apply-to xmlns='urn:xmpp:fasten:0' id='x'><retract xmlns='urn:xmpp:message-retract:0'/></apply-to>"},
		{0, 1, 2, "<retract xmlns='urn:xmpp:message-retract:1' id='x'/>"},
		{0, 2, 0, "<x xmlns='jabber:x:conference' jid='room@conference.localhost'/>"},
		{0, 1, 2, "<composing xmlns='http://jabber.org/protocol/chatstates'/>"},
		{0, 1, 2, "<displayed xmlns='urn:xmpp:chat-markers:0' id='x'/>"},
		{0, 1, 2, "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'><key rid='2'>a2V5</key><iv>aXY=</iv></header><payload>cA==</payload></encrypted>"},
		{0, 3, 5, "<body>to the room</body>"},
		{0, 1, 5, "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='romeo@localhost'><reason>come</reason></invite></x>"},
		{0, 2, 5, "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field></x>"},
		{0, 0, 1, "<body>to the server</body>"},
		{0, 4, 0, "<event xmlns='http://jabber.org/protocol/pubsub#event'/>"},
		{0, 5, 2, "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"},
		{0, 1, 0, "<private xmlns='urn:xmpp:carbons:2'/>"},
		{0, 1, 2, "<store xmlns='urn:xmpp:hints'/>"},
		{1, 0, 1, "<priority>5</priority>"},
		{1, 0, 1, "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"},
		{1, 0, 5, "<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='5'/><password>p</password></x>"},
		{1, 1, 5, "<status>bye</status>"},
		{1, 2, 2, "<nick xmlns='http://jabber.org/protocol/nick'>J</nick>"},
		{1, 3, 2, "<status/>"},
		{1, 6, 2, "<status/>"},
		{1, 0, 3, "<show>away</show>"},
		{1, 0, 1, "<x xmlns='vcard-temp:x:update'><photo>0123</photo></x>"},
		{1, 7, 2, "<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"},
	}
	for _, s := range seeds {
		f.Add(s.kind, s.typ, s.to, s.payload)
	}
	c, logged := fuzzSession(f)
	n := 0
	f.Fuzz(func(t *testing.T, kind, typ, to uint8, payload string) {
		if !oneElement(payload) {
			return // the stream would end, as it must
		}
		c.T = t
		n++
		id := "fs" + strconv.Itoa(n)
		types := stanzaTypes[kind%2]
		name, stType := [2]string{"message", "presence"}[kind%2], types[int(typ)%len(types)]
		st := "<" + name + " id='" + id + "'"
		if stType != "" {
			st += " type='" + stType + "'"
		}
		if target := fuzzTargets[int(to)%len(fuzzTargets)]; target != "" {
			st += " to='" + target + "'"
		}
		sent := st + ">" + payload + "</" + name + ">"
		c.Send(sent)
		c.Send("<iq type='get' id='" + id + "b' to='" + xmpptest.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
		for {
			el, err := c.NextErr()
			if err != nil {
				t.Fatalf("%s: the stream ended: %v", sent, err)
			}
			switch {
			case el.Name.Local == "iq" && el.Attr("id") == id+"b":
				checkLogged(t, sent, logged)
				return
			case el.Attr("id") == id && el.Attr("type") == "error" && el.Attr("from") != c.JID:
				if stType == "error" {
					t.Fatalf("%s: an error answered: %s", sent, el)
				}
				checkError(t, sent, el)
			}
		}
	})
}

// fuzzSession starts a server with the accounts juliet and romeo and
// returns juliet's session and what the server logs. The server logs
// into records, not f: a fuzz function's failure tells what was sent, and
// a log line from a server goroutine after f has finished would panic.
func fuzzSession(f *testing.F) (*xmpptest.Client, xmpptest.Records) {
	logged := xmpptest.NewRecords()
	s := xmpptest.StartLogged(f, logged.Logger())
	s.AddUser(f, "juliet", xmpptest.Domain, "pw")
	s.AddUser(f, "romeo", xmpptest.Domain, "pw")
	return xmpptest.Login(f, s, "juliet", "pw", "fuzz"), logged
}

// oneElement reports whether payload is one element within the server's
// limits, which a stanza may carry without ending the stream.
func oneElement(payload string) bool {
	_, err := xmlstream.ParseElement([]byte(payload), xmlstream.Limits{MaxStanzaBytes: 16 << 10, MaxDepth: 16})
	return err == nil
}

// checkLogged fails t if the server logged an error since the last
// check, and drains what it logged.
func checkLogged(t *testing.T, sent string, logged xmpptest.Records) {
	t.Helper()
	for {
		select {
		case rec := <-logged:
			if rec.Level >= slog.LevelError {
				var attrs []string
				rec.Attrs(func(a slog.Attr) bool {
					attrs = append(attrs, a.String())
					return true
				})
				t.Fatalf("%s: the server logged %q %v", sent, rec.Message, attrs)
			}
		default:
			return
		}
	}
}

// checkAnswer checks el, the answer to an IQ: a result, or an error as
// checkError wants it.
func checkAnswer(t *testing.T, sent string, el *xmlstream.Element) {
	t.Helper()
	switch el.Attr("type") {
	case "result":
	case "error":
		checkError(t, sent, el)
	default:
		t.Fatalf("%s: answered %s", sent, el)
	}
}

// checkError checks el, an error stanza answering sent: it has an error
// type and a defined condition (RFC 6120 §8.3.2, §8.3.3) other than
// internal-server-error.
func checkError(t *testing.T, sent string, el *xmlstream.Element) {
	t.Helper()
	e := el.Child("jabber:client", "error")
	if e == nil {
		t.Fatalf("%s: error without <error/>: %s", sent, el)
	}
	switch e.Attr("type") {
	case "auth", "cancel", "continue", "modify", "wait":
	default:
		t.Fatalf("%s: error type %q: %s", sent, e.Attr("type"), el)
	}
	var condition string
	for _, ch := range e.ChildElements() {
		if ch.Name.Space == "urn:ietf:params:xml:ns:xmpp-stanzas" && ch.Name.Local != "text" {
			condition = ch.Name.Local
		}
	}
	if !stanzaConditions[condition] {
		t.Fatalf("%s: answered %s", sent, el)
	}
}

// stanzaConditions are RFC 6120 §8.3.3's conditions, but for
// internal-server-error.
var stanzaConditions = map[string]bool{
	"bad-request": true, "conflict": true, "feature-not-implemented": true, "forbidden": true,
	"gone": true, "item-not-found": true, "jid-malformed": true, "not-acceptable": true,
	"not-allowed": true, "not-authorized": true, "policy-violation": true, "recipient-unavailable": true,
	"redirect": true, "registration-required": true, "remote-server-not-found": true,
	"remote-server-timeout": true, "resource-constraint": true, "service-unavailable": true,
	"subscription-required": true, "undefined-condition": true, "unexpected-request": true,
}
