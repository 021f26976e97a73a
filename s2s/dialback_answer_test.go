package s2s_test

import (
	"crypto/tls"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestAnswerOnIncomingStream: a dialback element with a 'type' is an
// answer, which belongs on the streams b.test opens (XEP-0220 §2.2: no
// 'type' on an incoming stream). On a stream d.test's server opened, it
// answers nothing b.test asked, and is dropped (§2.1.2, §3.1
// "Unsolicited Dialback"): it is not taken for a request, so it neither
// authenticates d.test, though d.test's certificate would, nor gets a
// verdict; and the stream goes on (§2.5). The probe after it, a request
// for a domain b.test does not serve, gets the first answer.
func TestAnswerOnIncomingStream(t *testing.T) {
	ca := xmpptest.NewCA(t)
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		certifiedBy(t, ca, false)(c)
	})
	certs := clientCert(t, ca, "d.test")
	for _, tc := range []struct{ name, answer string }{
		{"result valid", "<db:result from='d.test' to='b.test' type='valid'/>"},
		{"result invalid", "<db:result from='d.test' to='b.test' type='invalid'/>"},
		{"result error", "<db:result from='d.test' to='b.test' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>"},
		{"result with a key", "<db:result from='d.test' to='b.test' type='valid'>believed on the certificate</db:result>"},
		{"verify valid", "<db:verify from='d.test' to='b.test' id='i1' type='valid'/>"},
		{"verify with a key", "<db:verify from='d.test' to='b.test' id='i1' type='invalid'>0123</db:verify>"},
		{"verify empty type", "<db:verify from='d.test' to='b.test' id='i1' type=''>0123</db:verify>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := openPeerWith(t, b, "d.test", "b.test", true, certs)
			c.Send(tc.answer + "<db:verify from='d.test' to='elsewhere.test' id='probe'>0123</db:verify>")
			if el := c.Next(); el.Name.Local != "verify" || el.Attr("id") != "probe" || !dialbackError(el, "item-not-found") {
				t.Fatalf("got %s, want the answer to the probe first: nothing for the answer sent before it", el)
			}
			c.Send("<message from='dora@d.test' to='b.test' type='headline'/>")
			c.ExpectStreamError("not-authorized")
		})
	}
}

// TestRequestOnOutgoingStream plays peer.test's server, which receives
// a.test's stream, not bidirectional: a dialback element without a
// 'type' there is a request (XEP-0220 §2.2), not a verdict on a.test's
// key, which peer.test gives after it; a.test waits for the verdict,
// and then sends alice's message.
func TestRequestOnOutgoingStream(t *testing.T) {
	for _, tc := range []struct{ name, request string }{
		{"result", "<db:result from='peer.test' to='a.test'>a key of peer.test's</db:result>"},
		{"result without a key", "<db:result from='peer.test' to='a.test'/>"},
		{"verify", "<db:verify from='peer.test' to='a.test' id='s1'>a key of peer.test's</db:verify>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t)
			_, alice := aliceRoutedTo(t, l)
			alice.Send("<message to='pat@peer.test' type='chat' id='p1'><body>after the verdict</body></message>")
			peer := peerServer(t, l, &tls.Config{Certificates: clientCert(t, xmpptest.NewCA(t), "peer.test")})
			peer.Send(peerHeader + "<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>")
			if el := peer.Next(); el.Name.Local != "result" || el.Attr("from") != "a.test" || el.Attr("type") != "" {
				t.Fatalf("a.test sent %s, want its dialback key", el)
			}
			peer.Send(tc.request + "<db:result from='peer.test' to='a.test' type='valid'/>")
			if m := peer.Next(); m.Name.Local != "message" || m.Attr("from") != "alice@a.test/phone" {
				t.Fatalf("got %s, want alice's message after the verdict", m)
			}
		})
	}
}

// TestRequestOnVerificationStream: on the stream b.test opens to ask
// peer.test's server whether a key is right, a <db:verify/> without a
// 'type' that names the request's domains and id is a request, not the
// authoritative server's answer (XEP-0220 §2.1.2); the answer after it
// is b.test's verdict.
func TestRequestOnVerificationStream(t *testing.T) {
	c, auth, id := verifying(t)
	auth.Send("<db:verify from='peer.test' to='b.test' id='" + id + "'>a key of peer.test's</db:verify>" +
		"<db:verify from='peer.test' to='b.test' id='" + id + "' type='valid'/>")

	if el := c.NextNamed("result"); el.Attr("type") != "valid" {
		t.Fatalf("got %s, want the verdict of the answer, valid", el)
	}
}

// TestAnswerOnBidiOutgoingStream plays peer.test's server, which made
// a.test's stream bidirectional (XEP-0288): a.test declines a request
// to authenticate another domain of the peer's there with a dialback
// error, but does not answer an answer, which answers nothing it asked.
func TestAnswerOnBidiOutgoingStream(t *testing.T) {
	_, peer := bidiFromA(t, 0)
	peer.Send("<db:result from='rooms.peer.test' to='a.test' type='valid'/>" +
		"<db:result from='conference.peer.test' to='a.test'>a key</db:result>")
	if r := peer.Next(); r.Name.Local != "result" || r.Attr("to") != "conference.peer.test" || !dialbackError(r, "feature-not-implemented") {
		t.Fatalf("got %s, want the dialback error for conference.peer.test's request first", r)
	}
}

// TestKeyRefusedBounces plays peer.test's server, which finds a.test's
// dialback key invalid: the message queued for it goes back to alice
// with internal-server-error, as XEP-0220 §2.1.1 says for a key deemed
// bogus, not as if peer.test's server could not be found.
func TestKeyRefusedBounces(t *testing.T) {
	l := listen(t)
	_, alice := aliceRoutedTo(t, l)
	alice.Send("<message to='pat@peer.test' type='chat' id='k1'><body>refused</body></message>")
	peer := peerServer(t, l, &tls.Config{Certificates: clientCert(t, xmpptest.NewCA(t), "peer.test")})
	peer.Send(peerHeader + "<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>")
	if el := peer.Next(); el.Name.Local != "result" || el.Attr("from") != "a.test" {
		t.Fatalf("a.test sent %s, want its dialback key", el)
	}
	peer.Send("<db:result from='peer.test' to='a.test' type='invalid'/>")
	if e := xmpptest.ExpectError(t, alice.NextNamed("message"), "internal-server-error"); e.Attr("type") != "cancel" {
		t.Errorf("error %s, want type cancel", e)
	}
}
