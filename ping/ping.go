// Package ping implements XEP-0199: XMPP Ping, answered by the server for
// itself and for accounts.
package ping

import (
	"context"

	"xmppd/router"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0199.
const NS = "urn:xmpp:ping"

// Register answers pings on r.
func Register(r *router.Router) {
	r.AddFeature(NS)
	pong := func(ctx context.Context, iq router.IQ) *xmlstream.Element { return iq.Result(nil) }
	r.HandleIQ(router.ToServer, "get", NS, "ping", pong)
	r.HandleIQ(router.ToAccount, "get", NS, "ping", pong)
}
