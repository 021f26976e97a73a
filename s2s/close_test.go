package s2s_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// readToEnd reads what c's server sends until it ends its stream, and
// returns the elements; it fails the test at a stream error.
func readToEnd(t *testing.T, c *xmpptest.Client) []*xmlstream.Element {
	t.Helper()
	var got []*xmlstream.Element
	for {
		el, err := c.NextErr()
		if errors.Is(err, xmlstream.ErrStreamEnd) {
			return got
		}
		if err != nil {
			t.Fatalf("reading up to the end of the stream: %v (after %d elements)", err, len(got))
		}
		got = append(got, el)
	}
}

// TestIncomingIdleCloseReadsOn: when b.test closes a peer's stream that
// stayed silent too long, it closes its side only, without a
// connection-timeout error, and reads on until the peer closes its side
// (RFC 6120 §4.4, as XEP-0190 advised): a stanza the peer sent meanwhile
// still arrives.
func TestIncomingIdleCloseReadsOn(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, bob := federated(t, certifiedBy(t, ca, false), func(c *config.Config) { c.S2S.IdleSeconds = 1 })
	d := managedPeer(t, b, ca, "d.test", "")
	for _, el := range readToEnd(t, d) {
		if el.Name.Local == "error" {
			t.Fatalf("b.test sent %s, want its idle stream closed without an error", el)
		}
	}
	d.Send("<message from='dan@d.test/desk' to='bob@b.test/laptop' type='chat'><body>just in time</body></message></stream:stream>")
	xmpptest.ExpectBody(t, bob.NextNamed("message"), "dan@d.test/desk", "just in time")
}

// TestShutdownReadsLastAcknowledgement: a stopping a.test closes its
// stream with system-shutdown and reads on until the peer closes its
// side (RFC 6120 §4.4): the peer's last <a/>, sent before its end
// (XEP-0198 §7), acknowledges the message, which leaves the outbox
// rather than going again after the restart.
func TestShutdownReadsLastAcknowledgement(t *testing.T) {
	l := listen(t)
	a, alice := aliceRoutedTo(t, l)
	alice.Send("<message to='pat@peer.test' type='chat'><body>acknowledged at the end</body></message>")
	peer := smReceiver(t, l)
	expectMessageAndRequest(t, peer, "acknowledged at the end")
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- a.Shutdown(ctx)
	}()
	got := readToEnd(t, peer)
	if len(got) == 0 || got[len(got)-1].Name.Local != "error" || got[len(got)-1].Child("urn:ietf:params:xml:ns:xmpp-streams", "system-shutdown") == nil {
		t.Fatalf("a.test sent %v before its end, want a system-shutdown stream error last", got)
	}
	peer.Send("<a xmlns='" + nsSM + "' h='1'/></stream:stream>")
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if kept := outbox(t, a); len(kept) != 0 {
		t.Fatalf("the outbox keeps %q, want nothing: the peer acknowledged the message", kept)
	}
}

// TestShutdownReadsPeerStanzas: a stopping b.test closes a peer's stream
// with system-shutdown and reads on until the peer closes its side (RFC
// 6120 §4.4): a message the peer sent before it learnt of the end is
// still routed, to bob's offline storage, as bob's session ended first.
func TestShutdownReadsPeerStanzas(t *testing.T) {
	ca := xmpptest.NewCA(t)
	_, b, _, _ := federated(t, certifiedBy(t, ca, false))
	d := managedPeer(t, b, ca, "d.test", "")
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- b.Shutdown(ctx)
	}()
	got := readToEnd(t, d)
	if len(got) == 0 || got[len(got)-1].Child("urn:ietf:params:xml:ns:xmpp-streams", "system-shutdown") == nil {
		t.Fatalf("b.test sent %v before its end, want a system-shutdown stream error last", got)
	}
	d.Send("<message from='dan@d.test/desk' to='bob@b.test' type='chat'><body>sent as b.test stopped</body></message></stream:stream>")
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.DB.QueryRow(context.Background(),
		`SELECT count(*) FROM offline_messages WHERE username = 'bob' AND convert_from(stanza, 'UTF8') LIKE '%sent as b.test stopped%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("bob's offline storage holds %d copies of dan's message, want 1", n)
	}
}
