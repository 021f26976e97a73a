package s2s_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/router"
	"xmppd/xmlstream"
)

// TestStreamManagementOffered: on a stream a peer opens, b.test offers
// stream management (XEP-0198), enables it only once a domain is
// authenticated and only once, and acknowledges the peer's stanzas it
// routed.
func TestStreamManagementOffered(t *testing.T) {
	a, b, _, bob := federated(t)
	var secret []byte
	if err := a.DB.QueryRow(context.Background(), `SELECT secret FROM server_secret`).Scan(&secret); err != nil {
		t.Fatal(err)
	}

	t.Run("request before enabling", func(t *testing.T) {
		c := openPeer(t, b, "a.test", "b.test", true)
		c.Send("<r xmlns='" + nsSM + "'/>")
		c.ExpectStreamError("unsupported-stanza-type")
	})

	c, features := openPeerWith(t, b, "a.test", "b.test", true, nil)
	if features.Child(nsSM, "sm") == nil {
		t.Fatalf("features %s, want stream management offered", features)
	}
	c.Send("<enable xmlns='" + nsSM + "'/>")
	expectFailed(t, c, "before authenticating")
	c.Send("<db:result from='a.test' to='b.test'>" + key(secret, "b.test", "a.test", c.Header.ID) + "</db:result>")
	if el := c.NextNamed("result"); el.Attr("type") != "valid" {
		t.Fatalf("got %s, want a valid verdict", el)
	}
	c.Send("<enable xmlns='" + nsSM + "' resume='true'/>")
	if el := c.Next(); el.Name.Space != nsSM || el.Name.Local != "enabled" || el.Attr("resume") != "" {
		t.Fatalf("got %s, want stream management enabled, not resumable", el)
	}
	for _, body := range []string{"one", "two"} {
		c.Send("<message from='alice@a.test/x' to='bob@b.test' type='chat'><body>" + body + "</body></message>")
		xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/x", body)
	}
	c.Send("<r xmlns='" + nsSM + "'/>")
	if el := c.Next(); el.Name.Space != nsSM || el.Name.Local != "a" || el.Attr("h") != "2" {
		t.Fatalf("got %s, want both messages acknowledged", el)
	}
	c.Send("<enable xmlns='" + nsSM + "'/>")
	expectFailed(t, c, "enabled twice")
	// Before closing the stream, b.test tells what arrived (XEP-0198 §7).
	c.Send("<a xmlns='" + nsSM + "' h='x'/>")
	if el := c.Next(); el.Name.Space != nsSM || el.Name.Local != "a" || el.Attr("h") != "2" {
		t.Fatalf("got %s, want a last acknowledgement before the stream error", el)
	}
	c.ExpectStreamError("invalid-xml")
}

// TestNoCountAfterRestart: stream management is the stream's, so after
// SASL EXTERNAL restarts it, b.test's last count of the old stream does
// not follow the new stream's header.
func TestNoCountAfterRestart(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, bob := federated(t, certifiedBy(t, ca, false))
	c := managedPeer(t, b, ca, "a.test", "")
	c.Send("<message from='alice@a.test/x' to='bob@b.test' type='chat'><body>one</body></message>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/x", "one")
	c.Send("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte("a.test")) + "</auth>")
	if el := c.Next(); el.Name.Local != "success" {
		t.Fatalf("got %s, want success", el)
	}
	c.Send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='a.test' to='nowhere.test'>")
	c.ReadHeader()
	if el := c.Next(); el.Name.Space == nsSM {
		t.Fatalf("got %s of the old stream after the new stream's header, want the stream error", el)
	}
}

// managedPeer connects to b as domain's server with a certificate from
// ca, sends first (if any), has its dialback key believed on the
// certificate and enables stream management.
func managedPeer(t *testing.T, b *xmpptest.Server, ca *xmpptest.CA, domain, first string) *xmpptest.Client {
	t.Helper()
	c, _ := openPeerWith(t, b, domain, "b.test", true, clientCert(t, ca, domain))
	c.Send(first + "<db:result from='" + domain + "' to='b.test'>believed on the certificate</db:result>")
	if el := c.NextNamed("result"); el.Attr("type") != "valid" {
		t.Fatalf("got %s, want a valid verdict", el)
	}
	c.Send("<enable xmlns='" + nsSM + "'/>")
	if el := c.Next(); el.Name.Local != "enabled" {
		t.Fatalf("got %s, want stream management enabled", el)
	}
	return c
}

// expectFailed reads <failed/> with unexpected-request.
func expectFailed(t *testing.T, c *xmpptest.Client, when string) {
	t.Helper()
	if el := c.Next(); el.Name.Space != nsSM || el.Name.Local != "failed" || el.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "unexpected-request") == nil {
		t.Fatalf("%s: got %s, want <failed/> with unexpected-request", when, el)
	}
}

// TestUnacknowledgedSentAgain plays a server that offers stream
// management to a.test and breaks its stream before acknowledging
// alice's message: a.test sends it again over a new stream, and takes it
// out of the outbox only once acknowledged.
func TestUnacknowledgedSentAgain(t *testing.T) {
	l := listen(t)
	a, alice := aliceRoutedTo(t, l)
	alice.Send("<message to='pat@peer.test' type='chat' id='p1'><body>first</body></message>")

	peer := smReceiver(t, l)
	expectMessageAndRequest(t, peer, "first")
	peer.Conn.Close() // no acknowledgement

	peer = smReceiver(t, l)
	expectMessageAndRequest(t, peer, "first")
	peer.Send("<a xmlns='" + nsSM + "' h='1'/>")
	alice.Send("<message to='pat@peer.test' type='chat' id='p2'><body>second</body></message>")
	// a.test asks for this acknowledgement only once it took the first
	// one in: the first message is out of the outbox, the second not.
	expectMessageAndRequest(t, peer, "second")
	if kept := outbox(t, a); len(kept) != 1 || !strings.Contains(kept[0], "second") {
		t.Fatalf("the outbox keeps %q, want the unacknowledged second message alone", kept)
	}
}

// TestAcknowledgedBeforeTheEnd: a peer that acknowledges alice's
// messages just before ending its stream, as Prosody does, does not get
// them again on the next stream.
func TestAcknowledgedBeforeTheEnd(t *testing.T) {
	l := listen(t)
	_, alice := aliceRoutedTo(t, l)
	for i := range 10 {
		first, second := fmt.Sprint(i, "-1"), fmt.Sprint(i, "-2")
		alice.Send("<message to='pat@peer.test' type='chat'><body>" + first + "</body></message>")
		peer := smReceiver(t, l)
		expectMessageAndRequest(t, peer, first)
		alice.Send("<message to='pat@peer.test' type='chat'><body>" + second + "</body></message>")
		if m := peer.NextNamed("message"); m.Child("", "body").Text() != second {
			t.Fatalf("got %s, want %s", m, second)
		}
		peer.Send("<a xmlns='" + nsSM + "' h='1'/><a xmlns='" + nsSM + "' h='2'/></stream:stream>")
		for {
			if _, err := peer.NextErr(); err != nil {
				break
			}
		}
		peer.Conn.Close()
	}
}

// TestLaggingAcknowledgements: a peer that answers a.test's request
// without acknowledging the message is not asked again and again, only
// once more messages went out.
func TestLaggingAcknowledgements(t *testing.T) {
	l := listen(t)
	_, alice := aliceRoutedTo(t, l)
	alice.Send("<message to='pat@peer.test' type='chat'><body>0</body></message>")
	peer := smReceiver(t, l)
	expectMessageAndRequest(t, peer, "0")
	for i := 1; i <= 10; i++ {
		peer.Send("<a xmlns='" + nsSM + "' h='0'/>")
		alice.Send("<message to='pat@peer.test' type='chat'><body>" + strconv.Itoa(i) + "</body></message>")
		expectMessageAndRequest(t, peer, strconv.Itoa(i))
	}
	peer.Send("<a xmlns='" + nsSM + "' h='11'/>")
}

// aliceRoutedTo starts a.test, which finds peer.test's server at l, and
// returns it and alice@a.test logged in.
func aliceRoutedTo(t *testing.T, l net.Listener) (*xmpptest.Server, *xmpptest.Client) {
	t.Helper()
	a := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"peer.test": l.Addr().String()}
	})
	a.AddUser(t, "alice", "a.test", "alice pw")
	return a, xmpptest.LoginAt(t, a, "a.test", "alice", "alice pw", "phone")
}

// TestUnacknowledgedKeptAcrossRestart: a message a.test wrote to a peer
// that did not acknowledge it before a.test stopped stays in the outbox,
// and goes out after the restart.
func TestUnacknowledgedKeptAcrossRestart(t *testing.T) {
	l := listen(t)
	alice, bob, restart := restartingSender(t, l)
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>unacknowledged</body></message>")
	peer := smReceiver(t, l)
	expectMessageAndRequest(t, peer, "unacknowledged")

	restart()
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "alice@a.test/phone", "unacknowledged")
}

// TestAcknowledgedOverBidiStream: bob's messages to d.test go over the
// stream d.test's server opened, made bidirectional (XEP-0288), on which
// it enabled stream management: they leave b.test's outbox only once
// acknowledged, and when the stream ends first, b.test sends them again
// over a stream of its own.
func TestAcknowledgedOverBidiStream(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, bob := federated(t, certifiedBy(t, ca, false))
	l := listen(t)
	b.S2S().SetRoute("d.test", l.Addr().String())
	d := bidiPeer(t, b, ca, "d.test", true, false)
	d.Send("<enable xmlns='" + nsSM + "'/>")
	if el := d.Next(); el.Name.Local != "enabled" {
		t.Fatalf("got %s, want stream management enabled", el)
	}
	bob.Send("<message to='dan@d.test' type='chat'><body>first</body></message>")
	expectMessageAndRequest(t, d, "first")
	bob.Send("<message to='dan@d.test' type='chat'><body>second</body></message>")
	if m := d.NextNamed("message"); m.Child("", "body").Text() != "second" {
		t.Fatalf("got %s, want the second message", m)
	}
	// b.test answers the <r/> after taking the <a/> in.
	d.Send("<a xmlns='" + nsSM + "' h='1'/><r xmlns='" + nsSM + "'/>")
	d.NextNamed("r") // what went since the last request
	if a := d.NextNamed("a"); a.Attr("h") != "0" {
		t.Fatalf("got %s, want b.test's count of d.test's stanzas", a)
	}
	if kept := outbox(t, b); len(kept) != 1 || !strings.Contains(kept[0], "second") {
		t.Fatalf("the outbox keeps %q, want the unacknowledged second message alone", kept)
	}
	d.Conn.Close()
	peer := smReceiver(t, l)
	expectMessageAndRequest(t, peer, "second")
}

// TestViaCountAfterReenable: as above, but d.test enables stream
// management again on the new stream, and counts from 0 there, as
// XEP-0198 says. b.test's count goes on from the old stream's, so the
// peer's <a h='1'/> for the new stream's first message acknowledges
// nothing: "two" stays in the outbox (with more acknowledged before the
// restart than since, the <a/> is refused as too high: stream error).
func TestViaCountAfterReenable(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, bob := federated(t, certifiedBy(t, ca, false))
	d := managedPeer(t, b, ca, "d.test", "<bidi xmlns='"+nsBidi+"'/>")
	bob.Send("<message to='dan@d.test' type='chat'><body>one</body></message>")
	expectMessageAndRequest(t, d, "one")
	d.Send("<a xmlns='" + nsSM + "' h='1'/>")
	d.Send("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte("d.test")) + "</auth>")
	if el := d.NextNamed("success"); el == nil {
		t.Fatal("no success")
	}
	d.Send("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0' from='d.test' to='b.test'>")
	d.ReadHeader()
	d.Features()
	d.Send("<enable xmlns='" + nsSM + "'/>")
	if el := d.Next(); el.Name.Local != "enabled" {
		t.Fatalf("got %s, want stream management enabled on the new stream", el)
	}
	bob.Send("<message to='dan@d.test' type='chat'><body>two</body></message>")
	expectMessageAndRequest(t, d, "two") // d.test's stanza 1 on this stream
	d.Send("<a xmlns='" + nsSM + "' h='1'/><r xmlns='" + nsSM + "'/>")
	if el := d.Next(); el.Name.Local != "a" {
		t.Fatalf("got %s, want b.test's answer to <r/>", el)
	}
	if kept := outbox(t, b); len(kept) != 0 {
		t.Fatalf("the outbox keeps %q, want nothing: d.test acknowledged both", kept)
	}
}

// listen returns a listener on a free loopback port, closed at the end
// of the test.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// smReceiver accepts a server's stream on l as the server of the domain
// it connects to, offering stream management: it takes the dialback key
// as valid and enables stream management when asked.
func smReceiver(t *testing.T, l net.Listener) *xmpptest.Client {
	t.Helper()
	// A bound, not a timing: the server connects at once, or not at all.
	l.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute))
	peer := peerServer(t, l, &tls.Config{Certificates: clientCert(t, xmpptest.NewCA(t), "peer.test")})
	local, remote := peer.Header.From, peer.Header.To
	header := strings.NewReplacer("from='peer.test'", "from='"+remote+"'", "to='a.test'", "to='"+local+"'").Replace(peerHeader)
	peer.Send(header + "<stream:features><dialback xmlns='urn:xmpp:features:dialback'/><sm xmlns='" + nsSM + "'/></stream:features>")
	if el := peer.Next(); el.Name.Local != "result" || el.Attr("from") != local {
		t.Fatalf("%s sent %s, want its dialback key", local, el)
	}
	peer.Send("<db:result from='" + remote + "' to='" + local + "' type='valid'/>")
	if el := peer.Next(); el.Name.Space != nsSM || el.Name.Local != "enable" {
		t.Fatalf("%s sent %s, want it to enable stream management", local, el)
	}
	peer.Send("<enabled xmlns='" + nsSM + "'/>")
	return peer
}

// expectMessageAndRequest reads a message saying body, then a.test's
// request for an acknowledgement.
func expectMessageAndRequest(t *testing.T, peer *xmpptest.Client, body string) {
	t.Helper()
	if m := peer.Next(); m.Name.Local != "message" || m.Child("", "body") == nil || m.Child("", "body").Text() != body {
		t.Fatalf("got %s, want the message %q", m, body)
	}
	if r := peer.Next(); r.Name.Space != nsSM || r.Name.Local != "r" {
		t.Fatalf("got %s, want a request for an acknowledgement", r)
	}
}

// outbox returns the stanzas a's outbox keeps.
func outbox(t *testing.T, a *xmpptest.Server) []string {
	t.Helper()
	rows, err := a.DB.Query(context.Background(), `SELECT convert_from(stanza, 'UTF8') FROM s2s_outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var kept []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return kept
}

// TestUnacknowledgedIQBouncedAtStop: an IQ a.test wrote to a peer that
// did not acknowledge it before a.test stopped is not kept in the outbox
// (only messages are), and is not sent again: its sender gets the error
// RFC 6120 §10.4.3.2 says, remote-server-timeout, rather than no answer.
func TestUnacknowledgedIQBouncedAtStop(t *testing.T) {
	l := listen(t)
	a := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"a.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"peer.test": l.Addr().String()}
	})
	answer := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing
		defer cancel()
		_, err := a.Router().Query(ctx, "get", jid.MustParse("a.test"), jid.MustParse("pat@peer.test/x"), xmlstream.NewElement("urn:xmpp:ping", "ping"))
		answer <- err
	}()
	peer := smReceiver(t, l)
	if iq := peer.Next(); iq.Name.Local != "iq" || iq.Attr("to") != "pat@peer.test/x" {
		t.Fatalf("got %s, want a.test's ping", iq)
	}
	if r := peer.Next(); r.Name.Space != nsSM || r.Name.Local != "r" {
		t.Fatalf("got %s, want a request for an acknowledgement", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var qe *router.QueryError
	if err := <-answer; !errors.As(err, &qe) || qe.Condition != "remote-server-timeout" {
		t.Fatalf("the IQ's sender got %v, want a remote-server-timeout error", err)
	}
}
