package stanza

import (
	"testing"

	"xmppd/xmlstream"
)

// TestErrorReplyKeepsOneError: an error answering a stanza that carried
// an <error/> of its own (an IQ set with <error/> as its payload, say)
// has only the answer's <error/>, which clients read as the first one.
func TestErrorReplyKeepsOneError(t *testing.T) {
	iq, err := xmlstream.ParseElement([]byte("<iq xmlns='jabber:client' type='set' id='1' from='a@localhost/r' to='localhost/x'><error/><query xmlns='urn:example'/></iq>"), xmlstream.Limits{MaxStanzaBytes: 1 << 10, MaxDepth: 8})
	if err != nil {
		t.Fatal(err)
	}
	reply := ErrorReply(iq, "service-unavailable", "")
	var errors int
	for _, c := range reply.ChildElements() {
		if c.Name.Space == NSClient && c.Name.Local == "error" {
			errors++
		}
	}
	e := reply.Child(NSClient, "error")
	if errors != 1 || e.Attr("type") != "cancel" || e.Child(NSStanzas, "service-unavailable") == nil || reply.Child("urn:example", "query") == nil {
		t.Fatalf("error reply %s", reply)
	}
}
