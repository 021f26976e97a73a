package mam_test

import (
	"testing"

	"xmppd/internal/xmpptest"
)

const nsRSM = "http://jabber.org/protocol/rsm"

// TestRSMIndex: the archive does not page by index (XEP-0059 §2.6), so a
// query for the page at an index other than the first gets
// feature-not-implemented instead of the first page passed off as the
// one asked for; index 0 is the first page, and <first/> says so.
func TestRSMIndex(t *testing.T) {
	t.Parallel()
	juliet := romeoWrites(t, "one", "two", "three")
	results, iq := query(juliet, "", "<set xmlns='"+nsRSM+"'><max>1</max><index>2</index></set>")
	if len(results) != 0 {
		t.Fatalf("index 2: got %s, want no results", bodies(results))
	}
	xmpptest.ExpectError(t, iq, "feature-not-implemented")

	results, iq = query(juliet, "", "<set xmlns='"+nsRSM+"'><max>1</max><index>0</index></set>")
	first := fin(t, iq).Child(nsRSM, "set").Child(nsRSM, "first")
	if bodies(results) != "one" || first == nil || first.Attr("index") != "0" {
		t.Fatalf("index 0: got %s and %s, want one and <first index='0'/>", bodies(results), iq)
	}
}

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
