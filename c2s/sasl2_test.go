package c2s_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

const (
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
)

// The bind request of a client that asks for stream management and
// carbons at once, as Conversations and Monal do.
const agent = "<user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>Test</software><device>Phone</device></user-agent>"

func bindRequest(extra string) string {
	return agent + "<bind xmlns='" + nsBind2 + "'><tag>Test</tag>" + extra + "</bind>"
}

// TestSASL2Features: SASL2 is offered after TLS with the same mechanisms
// as SASL, and Bind 2 with the features it can enable.
func TestSASL2Features(t *testing.T) {
	s := xmpptest.Start(t)
	_, f := encrypted(t, s)
	a := f.Child(nsSASL2, "authentication")
	if a == nil {
		t.Fatalf("features %s, want SASL2", f)
	}
	var mechs []string
	for _, m := range a.ChildElements() {
		if m.Name.Local == "mechanism" {
			mechs = append(mechs, m.Text())
		}
	}
	if got, want := strings.Join(mechs, " "), strings.Join(mechanisms(f), " "); got != want {
		t.Errorf("SASL2 mechanisms %q, want SASL's %q", got, want)
	}
	inline := a.Child(nsSASL2, "inline").Child(nsBind2, "bind").Child(nsBind2, "inline")
	var vars []string
	for _, fe := range inline.ChildElements() {
		vars = append(vars, fe.Attr("var"))
	}
	if got := strings.Join(vars, " "); got != "urn:xmpp:sm:3 urn:xmpp:csi:0 urn:xmpp:carbons:2" {
		t.Errorf("Bind 2 inline features %q", got)
	}
}

// TestSASL2Bind2: one round of SASL2 with a Bind 2 request logs in,
// binds a resource made of the tag, enables stream management and
// carbons, and the session works at once, without a stream restart.
func TestSASL2Bind2(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	j, _ := encrypted(t, s)
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		bindRequest("<enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/>"))
	if success.Name.Space != nsSASL2 || success.Name.Local != "success" {
		t.Fatalf("got %s, want SASL2 success", success)
	}
	full := success.Child(nsSASL2, "authorization-identifier").Text()
	if !strings.HasPrefix(full, "juliet@localhost/Test/") {
		t.Fatalf("authorization identifier %q, want juliet@localhost/Test/...", full)
	}
	enabled := success.Child(nsBind2, "bound").Child("urn:xmpp:sm:3", "enabled")
	if enabled == nil || enabled.Attr("resume") != "true" || enabled.Attr("id") == "" {
		t.Fatalf("success %s, want <bound/> with resumable <enabled/>", success)
	}
	if f := j.Next(); f.Name.Local != "features" || f.Child(nsBind2, "bind") != nil || f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") != nil ||
		f.Child("urn:xmpp:sm:3", "sm") != nil {
		t.Fatalf("got %s, want the bound stream's features, without binding or stream management, which is on", f)
	}
	j.JID = full
	sm := &xmpptest.SM{C: j, ID: enabled.Attr("id"), AutoAck: true}
	sm.Send("<presence/>")
	if p := sm.Next(); p.Name.Local != "presence" || p.Attr("from") != full {
		t.Fatalf("got %s, want the reflection of juliet's presence", p)
	}

	// Carbons are on: what juliet's other resource sends is copied here.
	other := xmpptest.Login(t, s, "juliet", "pw", "laptop")
	other.Send("<message to='romeo@localhost' type='chat' id='c1'><body>from the laptop</body></message>")
	m := sm.Next()
	if sent := m.Child("urn:xmpp:carbons:2", "sent"); sent == nil || m.Attr("from") != "juliet@localhost" {
		t.Fatalf("got %s, want a carbon of the laptop's message", m)
	}
	// Stream management counts from the start: both stanzas.
	if h := sm.Handled(); h != sm.Sent {
		t.Fatalf("server handled %d stanzas, juliet sent %d", h, sm.Sent)
	}
	sm.C.Send("<r xmlns='urn:xmpp:sm:3'/>")
	if a := sm.C.Next(); a.Name.Local != "a" || a.Attr("h") != "1" {
		t.Fatalf("got %s, want <a h='1'/>", a)
	}
}

// TestSASL2WithoutBind: SASL2 without a bind request authenticates; the
// features follow at once, and RFC 6120 binding works on the same
// stream.
func TestSASL2WithoutBind(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	j, _ := encrypted(t, s)
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256-PLUS", Binding: "tls-exporter"}, "juliet", "pw", agent)
	if success.Name.Local != "success" || success.Child(nsSASL2, "authorization-identifier").Text() != "juliet@localhost" {
		t.Fatalf("got %s, want success as juliet@localhost", success)
	}
	if f := j.Next(); f.Name.Local != "features" || f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
		t.Fatalf("got %s, want features offering binding", f)
	}
	if full := j.Bind("balcony"); full != "juliet@localhost/balcony" {
		t.Fatalf("bound %s", full)
	}
	j.Ping()
}

// TestSASL2Failure: a wrong password gets a SASL2 failure with RFC 6120's
// condition, and leaves the stream as it was: the next attempt succeeds.
func TestSASL2Failure(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	j, _ := encrypted(t, s)
	f := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "wrong", bindRequest(""))
	if f.Name.Space != nsSASL2 || f.Name.Local != "failure" || f.Child("urn:ietf:params:xml:ns:xmpp-sasl", "not-authorized") == nil {
		t.Fatalf("got %s, want SASL2 failure with not-authorized", f)
	}
	if s := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", bindRequest("")); s.Name.Local != "success" {
		t.Fatalf("second attempt: %s", s)
	}
	j.Next() // features
	j.JID = ""
	j.Ping()
}

// TestBind2SameClientReplaces: the same client (user agent id and tag)
// gets the same resource at its next login, which ends its earlier
// session (XEP-0386 §2.2); another client gets another resource.
func TestBind2SameClientReplaces(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	login := func(ua string) (*xmpptest.Client, string) {
		c, _ := encrypted(t, s)
		success := c.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
			"<user-agent id='"+ua+"'/><bind xmlns='"+nsBind2+"'><tag>Test</tag></bind>")
		c.Next() // features
		return c, success.Child(nsSASL2, "authorization-identifier").Text()
	}
	first, res1 := login("9e7a8c2e-0d9f-4f0e-a6f6-9a8f1c2b3d4e")
	_, res2 := login("9e7a8c2e-0d9f-4f0e-a6f6-9a8f1c2b3d4e")
	if res1 != res2 || strings.Contains(res1, "9e7a8c2e") {
		t.Fatalf("resources %q and %q, want the same, without the user agent id", res1, res2)
	}
	first.ExpectStreamError("conflict")
	if _, res3 := login("0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"); res3 == res1 {
		t.Fatalf("another client got the same resource %q", res3)
	}
}

// TestSASL2BadInput: unknown mechanisms fail, SASL2 before TLS fails, a
// tag too long for a resource is left out, stream management asked for
// twice is enabled once, and authenticating twice ends
// the stream (once bound, <authenticate/> is no stanza at all).
func TestSASL2BadInput(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")

	plain := xmpptest.Dial(t, s.C2SAddr)
	plain.Open(xmpptest.Domain)
	plain.Features()
	plain.Send("<authenticate xmlns='" + nsSASL2 + "' mechanism='SCRAM-SHA-256'><initial-response>biwsbj1qdWxpZXQscj1hYmM=</initial-response></authenticate>")
	if f := plain.Next(); f.Name.Space != nsSASL2 || f.Child("urn:ietf:params:xml:ns:xmpp-sasl", "encryption-required") == nil {
		t.Fatalf("SASL2 before TLS: %s, want encryption-required", f)
	}

	c, _ := encrypted(t, s)
	c.Send("<authenticate xmlns='" + nsSASL2 + "' mechanism='NONESUCH'/>")
	if f := c.Next(); f.Name.Local != "failure" || f.Child("urn:ietf:params:xml:ns:xmpp-sasl", "invalid-mechanism") == nil {
		t.Fatalf("unknown mechanism: %s, want invalid-mechanism", f)
	}
	success := c.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		"<bind xmlns='"+nsBind2+"'><tag>"+strings.Repeat("long", 20)+"</tag>"+
			"<enable xmlns='urn:xmpp:sm:3'/><enable xmlns='urn:xmpp:sm:3'/></bind>")
	id := success.Child(nsSASL2, "authorization-identifier")
	if id == nil || !strings.HasPrefix(id.Text(), "juliet@localhost/") || strings.Contains(id.Text(), "long") {
		t.Fatalf("got %s, want a resource without the long tag", success)
	}
	if bound := success.Child(nsBind2, "bound"); bound.Child("urn:xmpp:sm:3", "enabled") == nil || bound.Child("urn:xmpp:sm:3", "failed") == nil {
		t.Fatalf("got %s, want stream management enabled once and the second request failed", success)
	}
	c.Next() // features
	c.Ping()

	again, _ := encrypted(t, s)
	again.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw", "")
	again.Next() // features
	again.Send("<authenticate xmlns='" + nsSASL2 + "' mechanism='SCRAM-SHA-256'/>")
	again.ExpectStreamError("policy-violation")
}

// TestSASL2Resume: a client resumes its session inside <authenticate/>
// (XEP-0198 inline in XEP-0388): <success/> carries <resumed/>, and what
// it had not acknowledged comes again; the bind request beside it is
// ignored. An unknown session is told as <failed/> in <success/>, and the
// bind request then binds a new one, with the archive's metadata.
func TestSASL2Resume(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	r := xmpptest.Login(t, s, "romeo", "pw", "orchard")

	j, f := encrypted(t, s)
	if f.Child(nsSASL2, "authentication").Child(nsSASL2, "inline").Child("urn:xmpp:sm:3", "sm") == nil {
		t.Fatalf("features %s, want resumption offered inline", f)
	}
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		bindRequest("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"))
	full := success.Child(nsSASL2, "authorization-identifier").Text()
	previd := success.Child(nsBind2, "bound").Child("urn:xmpp:sm:3", "enabled").Attr("id")
	j.Next() // features
	r.Send("<message to='" + full + "' type='chat' id='m1'><body>one</body></message>")
	m1 := j.NextNamed("message")
	if m1.Attr("id") != "m1" {
		t.Fatalf("got %s", m1)
	}
	archived := m1.Child("urn:xmpp:sid:0", "stanza-id").Attr("id")
	j.Conn.Close() // m1 was never acknowledged

	j2, _ := encrypted(t, s)
	success = j2.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		agent+"<resume xmlns='urn:xmpp:sm:3' previd='"+previd+"' h='0'/><bind xmlns='"+nsBind2+"'><tag>Other</tag></bind>")
	resumed := success.Child("urn:xmpp:sm:3", "resumed")
	if resumed == nil || resumed.Attr("previd") != previd || success.Child(nsSASL2, "authorization-identifier").Text() != full || success.Child(nsBind2, "bound") != nil {
		t.Fatalf("got %s, want <success/> with <resumed/> for %s and no binding", success, full)
	}
	if f := j2.Next(); f.Name.Local != "features" {
		t.Fatalf("got %s, want the features", f)
	}
	if m := j2.NextNamed("message"); m.Attr("id") != "m1" {
		t.Fatalf("got %s, want the unacknowledged message again", m)
	}

	j3, _ := encrypted(t, s)
	success = j3.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		agent+"<resume xmlns='urn:xmpp:sm:3' previd='nonesuch' h='0'/><bind xmlns='"+nsBind2+"'><tag>Other</tag></bind>")
	if success.Child("urn:xmpp:sm:3", "failed") == nil || success.Child(nsBind2, "bound") == nil ||
		!strings.HasPrefix(success.Child(nsSASL2, "authorization-identifier").Text(), "juliet@localhost/Other/") {
		t.Fatalf("got %s, want <failed/> and a new binding", success)
	}
	// <bound/> tells where the archive ends: at m1 (XEP-0386 §2.2).
	md := success.Child(nsBind2, "bound").Child("urn:xmpp:mam:2", "metadata")
	if md == nil || md.Child("urn:xmpp:mam:2", "end") == nil || md.Child("urn:xmpp:mam:2", "end").Attr("id") != archived {
		t.Fatalf("got %s, want the archive's metadata ending at %s", success, archived)
	}
}

// TestBind2EnableOnly: only <enable/> of a feature's namespace in a Bind
// 2 request turns it on; another element of that namespace does not.
func TestBind2EnableOnly(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	j, _ := encrypted(t, s)
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		bindRequest("<disable xmlns='urn:xmpp:carbons:2'/>"))
	if success.Name.Local != "success" {
		t.Fatalf("got %s, want SASL2 success", success)
	}
	j.Next() // features
	j.JID = success.Child(nsSASL2, "authorization-identifier").Text()

	// No carbon of the laptop's message comes before its direct one.
	other := xmpptest.Login(t, s, "juliet", "pw", "laptop")
	other.Send("<message to='romeo@localhost' type='chat'><body>to romeo</body></message>")
	other.Send("<message to='" + j.JID + "' type='chat'><body>to the phone</body></message>")
	xmpptest.ExpectBody(t, j.NextNamed("message"), other.JID, "to the phone")
}

// TestSASL2BoundFeaturesRoster: a client that binds with Bind 2, or
// resumes inside <authenticate/>, sees no other features after logging
// in than those following <success/>: they offer roster versioning and
// subscription pre-approval, as the features after RFC 6120
// authentication do (RFC 6121 §2.6.1, §3.4).
func TestSASL2BoundFeaturesRoster(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	check := func(what string, f *xmlstream.Element) {
		t.Helper()
		if f.Name.Local != "features" || f.Child("urn:xmpp:features:rosterver", "ver") == nil ||
			f.Child("urn:xmpp:features:pre-approval", "sub") == nil {
			t.Errorf("%s: got %s, want features offering roster versioning and pre-approval", what, f)
		}
	}
	j, _ := encrypted(t, s)
	success := j.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		bindRequest("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"))
	previd := success.Child(nsBind2, "bound").Child("urn:xmpp:sm:3", "enabled").Attr("id")
	check("Bind 2", j.Next())
	j.Conn.Close()

	j2, _ := encrypted(t, s)
	success = j2.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
		agent+"<resume xmlns='urn:xmpp:sm:3' previd='"+previd+"' h='0'/>")
	if success.Child("urn:xmpp:sm:3", "resumed") == nil {
		t.Fatalf("got %s, want <success/> with <resumed/>", success)
	}
	check("resumption", j2.Next())
}

// TestBind2SameClientOtherTag: a client (one user agent id) that binds
// again with another tag ends its earlier session too (XEP-0386 §2.2),
// while another client's session of the account stays.
func TestBind2SameClientOtherTag(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	login := func(ua, tag string) (*xmpptest.Client, string) {
		c, _ := encrypted(t, s)
		success := c.Authenticate2(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "pw",
			"<user-agent id='"+ua+"'/><bind xmlns='"+nsBind2+"'><tag>"+tag+"</tag></bind>")
		c.Next() // features
		c.JID = success.Child(nsSASL2, "authorization-identifier").Text()
		return c, c.JID
	}
	const phone = "9e7a8c2e-0d9f-4f0e-a6f6-9a8f1c2b3d4e"
	first, res1 := login(phone, "Old")
	other, _ := login("0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "Old")
	_, res2 := login(phone, "New")
	if res1 == res2 {
		t.Fatalf("tags Old and New bound the same resource %q", res1)
	}
	first.ExpectStreamError("conflict")
	other.Ping()
}
