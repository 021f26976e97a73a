package s2s_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestVerifyAnswerMustMatch: b.test takes the authoritative server's
// answer to its <db:verify/> as the verdict on a key only when its
// 'from', 'to' and 'id' are those of the request, swapped (XEP-0220
// §2.1.2, §2.2.2); any other answers no request of b.test's and is
// dropped (§2.1.2, §4.1 "Unsolicited Dialback"): here the stray answer
// says valid, the matching one invalid.
func TestVerifyAnswerMustMatch(t *testing.T) {
	for _, tc := range []struct{ name, from, to, id string }{
		{name: "to", from: "peer.test", to: "other.test"},
		{name: "from", from: "other.test", to: "b.test"},
		{name: "id", from: "peer.test", to: "b.test", id: "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, auth, id := verifying(t)
			stray := tc.id
			if stray == "" {
				stray = id
			}
			auth.Send("<db:verify from='" + tc.from + "' to='" + tc.to + "' id='" + stray + "' type='valid'/>" +
				"<db:verify from='peer.test' to='b.test' id='" + id + "' type='invalid'/>")

			if el := c.NextNamed("result"); el.Attr("type") != "invalid" {
				t.Fatalf("got %s, want the verdict of the matching answer, invalid", el)
			}
		})
	}
}

// verifying has peer.test's server ask b.test, on the stream c, to
// believe a key b.test cannot check itself, and accepts the stream b.test
// then opens to peer.test's server as the authoritative server (auth),
// which has just received the request of id to verify the key.
func verifying(t *testing.T) (c, auth *xmpptest.Client, id string) {
	t.Helper()
	l := listen(t)
	b := xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{"b.test"}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.Routes = map[string]string{"peer.test": l.Addr().String()}
	})
	c = openPeer(t, b, "peer.test", "b.test", true)
	c.Send("<db:result from='peer.test' to='b.test'>a key b.test cannot check itself</db:result>")
	auth = peerServer(t, l, &tls.Config{Certificates: clientCert(t, xmpptest.NewCA(t), "peer.test")})
	auth.Send(strings.Replace(peerHeader, "to='a.test'", "to='b.test'", 1) + "<stream:features/>")
	req := auth.NextNamed("verify")
	if req.Attr("from") != "b.test" || req.Attr("to") != "peer.test" || req.Attr("id") == "" {
		t.Fatalf("b.test sent %s, want a request from b.test to peer.test", req)
	}
	return c, auth, req.Attr("id")
}
