package mam_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

const nsRSM = "http://jabber.org/protocol/rsm"

// TestRSMMax: <max/> is an XML Schema integer (XEP-0059 §2.1): spaces
// around it are allowed, and one beyond what the server gives is capped
// at its page size, however large, instead of being refused.
func TestRSMMax(t *testing.T) {
	t.Parallel()
	juliet := romeoWrites(t, "one", "two")
	for _, max := range []string{" 1 ", "99999999999999999999"} {
		results, iq := query(juliet, "", "<set xmlns='"+nsRSM+"'><max>"+max+"</max></set>")
		if iq.Attr("type") != "result" {
			t.Fatalf("max %q: %s, want a result", max, iq)
		}
		want := "one,two"
		if max == " 1 " {
			want = "one"
		}
		if got := bodies(results); got != want {
			t.Errorf("max %q: got %s, want %s", max, got, want)
		}
	}
	_, iq := query(juliet, "", "<set xmlns='"+nsRSM+"'><max>-1</max></set>")
	xmpptest.ExpectError(t, iq, "bad-request")
}
