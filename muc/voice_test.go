package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// voiceRequest is a visitor's request for voice (XEP-0045 §7.13).
const voiceRequest = "<message to='" + room + "' id='vr'><x xmlns='jabber:x:data' type='submit'>" +
	"<field var='FORM_TYPE'><value>" + nsMUC + "#request</value></field>" +
	"<field var='muc#role' type='list-single'><value>participant</value></field></x></message>"

// formField returns the value of the field name of the form x.
func formField(x *xmlstream.Element, name string) string {
	for _, f := range x.ChildElements() {
		if f.Attr("var") == name {
			return f.Child("jabber:x:data", "value").Text()
		}
	}
	return ""
}

// XEP-0045 §7.13, §8.6: a visitor asks for voice, the moderators get the
// approval form, and approving it makes the visitor a participant.
func TestVoiceRequest(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo, nurse := online(t, s, "juliet"), online(t, s, "romeo"), online(t, s, "nurse")
	create(t, juliet, room, "jul")
	configure(t, juliet, room, field("muc#roomconfig_moderatedroom", "1"))
	enter(t, nurse, room, "nurse", "", []string{"jul"}, 0, "")
	expectPresence(t, juliet, room+"/nurse", "")
	enter(t, romeo, room, "romeo", "", []string{"jul", "nurse"}, 0, "")
	expectPresence(t, juliet, room+"/romeo", "")
	expectPresence(t, nurse, room+"/romeo", "")

	nurse.Send(voiceRequest)
	el := juliet.NextNamed("message")
	x := el.Child("jabber:x:data", "x")
	if el.Attr("from") != room || x == nil || x.Attr("type") != "form" || formField(x, "FORM_TYPE") != nsMUC+"#request" ||
		formField(x, "muc#roomnick") != "nurse" || formField(x, "muc#jid") != "nurse@localhost" || formField(x, "muc#request_allow") != "false" {
		t.Fatalf("approval form: %s", el)
	}
	romeo.Ping() // visitors get no form

	// A moderator declining changes nothing.
	approve := func(c *xmpptest.Client, allow string) {
		c.Send("<message to='" + room + "' id='ap'><x xmlns='jabber:x:data' type='submit'>" +
			field("FORM_TYPE", nsMUC+"#request") + field("muc#role", "participant") + field("muc#jid", "nurse@localhost") +
			field("muc#roomnick", "nurse") + field("muc#request_allow", allow) + "</x></message>")
	}
	approve(juliet, "false")
	juliet.Ping()
	approve(juliet, "true")
	for _, c := range []*xmpptest.Client{juliet, romeo} {
		if it := item(t, expectPresence(t, c, room+"/nurse", "")); it.Attr("role") != "participant" {
			t.Fatalf("%s: nurse's role after approval: %s", c.JID, it)
		}
	}
	if it := item(t, expectPresence(t, nurse, room+"/nurse", "", "110")); it.Attr("role") != "participant" {
		t.Fatalf("nurse's own role after approval: %s", it)
	}
	nurse.Send("<message type='groupchat' to='" + room + "'><body>thank you</body></message>")
	for _, c := range []*xmpptest.Client{juliet, romeo, nurse} {
		xmpptest.ExpectBody(t, c.NextNamed("message"), room+"/nurse", "thank you")
	}
	// With a voice, asking again is refused.
	nurse.Send(voiceRequest)
	xmpptest.ExpectError(t, nurse.NextNamed("message"), "not-acceptable")
}
