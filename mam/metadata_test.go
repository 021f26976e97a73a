package mam_test

import (
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// TestMetadata: <metadata/> (XEP-0313 §5.1) names the first and last
// messages of the account's archive by the stanza-ids clients saw, and is
// empty for an empty archive; another account may not ask.
func TestMetadata(t *testing.T) {
	t.Parallel()
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	juliet.Online()
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	metadata := func(c *xmpptest.Client, to string) *xmlstream.Element {
		c.Send("<iq type='get' id='md' to='" + to + "'><metadata xmlns='urn:xmpp:mam:2'/></iq>")
		return c.NextNamed("iq")
	}
	if md := metadata(juliet, "juliet@localhost").Child(nsMAM, "metadata"); md == nil || len(md.ChildElements()) != 0 {
		t.Fatalf("empty archive: %v, want <metadata/> with nothing in it", md)
	}

	var ids []string
	for _, body := range []string{"first", "second", "third"} {
		romeo.Send("<message type='chat' to='juliet@localhost' id='" + body + "'><body>" + body + "</body></message>")
		ids = append(ids, juliet.NextNamed("message").Child(nsSID, "stanza-id").Attr("id"))
	}
	md := metadata(juliet, "juliet@localhost").Child(nsMAM, "metadata")
	start, end := md.Child(nsMAM, "start"), md.Child(nsMAM, "end")
	if start == nil || end == nil || start.Attr("id") != ids[0] || end.Attr("id") != ids[2] || start.Attr("timestamp") == "" || end.Attr("timestamp") < start.Attr("timestamp") {
		t.Fatalf("metadata %s, want start %s and end %s with their stamps", md, ids[0], ids[2])
	}
	if res := metadata(romeo, "juliet@localhost"); res.Attr("type") != "error" || res.Child("", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "forbidden") == nil {
		t.Fatalf("romeo asking for juliet's metadata: %s, want forbidden", res)
	}
}
