package xmlstream

import "testing"

// An attribute in a namespace named "xmlns" (a relative URI, as "xml" is)
// was accepted, then dropped by Append, which takes Name.Space "xmlns" for
// a namespace declaration: the stanza the server forwarded or stored was
// not the one it accepted (FuzzDecoder's round-trip check fails on it).
// Like an attribute in the namespace "xml", it is refused.
func TestAttributeInNamespaceXMLNSRoundTrips(t *testing.T) {
	for _, in := range []string{
		`<message xmlns='jabber:client' xmlns:p='xmlns' p:foo='x'/>`,
		`<message xmlns='jabber:client' xmlns:p='xml' p:foo='x'/>`,
	} {
		e, err := ParseElement([]byte(in), Limits{})
		if err != nil {
			if condition(err) != CondNotWellFormed {
				t.Errorf("%s: %v, want not-well-formed or a round trip", in, err)
			}
			continue
		}
		checkRoundTrip(t, e, 8)
	}
}
