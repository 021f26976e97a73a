package extdisco_test

import (
	"testing"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestStrangersGetNoCredentials: a JID with a localpart that is not an
// account of this server (here a user of an external component's domain,
// as a user of another server would be) gets neither the services list
// with TURN credentials nor credentials on request.
func TestStrangersGetNoCredentials(t *testing.T) {
	const gateway, secret = "gw.localhost", "the gateway's secret"
	s := xmpptest.Start(t, func(c *config.Config) {
		c.ExternalServices = []config.ExternalService{
			{Type: "turn", Host: "turn.example.com", Secret: "s3cret", TTLSeconds: 600},
		}
		c.Components.Listen = "127.0.0.1:0"
		c.Components.External = []config.ExternalComponent{{Domain: gateway, Secret: secret}}
	})
	gw := xmpptest.ConnectComponent(t, s.ComponentAddr, gateway, secret)
	for _, payload := range []string{
		"<services xmlns='" + ns + "'/>",
		"<credentials xmlns='" + ns + "'><service type='turn' host='turn.example.com'/></credentials>",
	} {
		gw.Send("<iq type='get' id='x' from='stranger@" + gateway + "' to='localhost'>" + payload + "</iq>")
		res := gw.NextNamed("iq")
		if res.Attr("type") != "error" {
			t.Fatalf("stranger@%s asked %s and got %s, want an error", gateway, payload, res)
		}
	}
}
