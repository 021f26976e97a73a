package muc_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

// TestAdminListUnknownValue: a request for the list of an affiliation or
// role that XEP-0045 does not define (§9.5, §9.8, its schema) is
// bad-request, not an empty list that says nobody has it.
func TestAdminListUnknownValue(t *testing.T) {
	t.Parallel()
	s := start(t)
	juliet, romeo := online(t, s, "juliet"), online(t, s, "romeo")
	createWithRomeo(t, juliet, romeo)
	for _, it := range []string{"affiliation='owners'", "role='participants'"} {
		juliet.Send("<iq type='get' id='l' to='" + room + "'><query xmlns='" + nsMUC + "#admin'><item " + it + "/></query></iq>")
		xmpptest.ExpectError(t, expectIQ(t, juliet, "l", "error"), "bad-request")
	}
}
