// Package version implements XEP-0092: Software Version, for the server.
package version

import (
	"context"

	"xmppd/router"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0092.
const NS = "jabber:iq:version"

// Register answers software version queries to the server with name and
// version. The operating system is not disclosed.
func Register(r *router.Router, name, version string) {
	r.AddFeature(NS)
	r.HandleIQ(router.ToServer, "get", NS, "query", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		q := xmlstream.NewElement(NS, "query")
		q.AddChild(xmlstream.NewElement(NS, "name").AddText(name))
		q.AddChild(xmlstream.NewElement(NS, "version").AddText(version))
		return iq.Result(q)
	})
}
