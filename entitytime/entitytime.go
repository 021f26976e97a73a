// Package entitytime implements XEP-0202: Entity Time, for the server.
package entitytime

import (
	"context"
	"time"

	"xmppd/router"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0202.
const NS = "urn:xmpp:time"

// Register answers time queries to the server on r, reading the clock now.
func Register(r *router.Router, now func() time.Time) {
	r.AddFeature(NS)
	r.HandleIQ(router.ToServer, "get", NS, "time", func(ctx context.Context, iq router.IQ) *xmlstream.Element {
		return iq.Result(Element(now()))
	})
}

// Element returns the <time/> payload for t: the zone offset and UTC time
// as XEP-0082 profiles them.
func Element(t time.Time) *xmlstream.Element {
	q := xmlstream.NewElement(NS, "time")
	q.AddChild(xmlstream.NewElement(NS, "tzo").AddText(t.Format("-07:00")))
	q.AddChild(xmlstream.NewElement(NS, "utc").AddText(t.UTC().Format("2006-01-02T15:04:05.000Z")))
	return q
}
