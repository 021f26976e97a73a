package mam_test

import (
	"testing"
)

// TestEndAtAdvertisedStamp: XEP-0313 §4.1.2: 'end' is inclusive. A client
// that asks for the messages up to the timestamp the server itself gave
// for the archive's last message (metadata <end/>, or the message's
// <delay/> stamp) must get that message.
func TestEndAtAdvertisedStamp(t *testing.T) {
	t.Parallel()
	// Several messages: a stamp on an exact millisecond would hide the bug.
	juliet := romeoWrites(t, "one", "two", "three", "four", "five")
	results, _ := query(juliet, "", "")
	if len(results) != 5 {
		t.Fatalf("%d results, want 5", len(results))
	}
	juliet.Send("<iq type='set' id='q2'><query xmlns='urn:xmpp:mam:2' queryid='x'/></iq>")
	var stamps []string
	for {
		el := juliet.Next()
		if el.Name.Local == "iq" {
			break
		}
		stamps = append(stamps, el.Child(nsMAM, "result").Child("urn:xmpp:forward:0", "forwarded").Child("urn:xmpp:delay", "delay").Attr("stamp"))
	}
	for i, stamp := range stamps {
		// Messages of the same millisecond share their stamp.
		want := i + 1
		for want < len(stamps) && stamps[want] == stamp {
			want++
		}
		got, _ := query(juliet, "", form("end", stamp))
		if len(got) != want {
			t.Errorf("end=%s (the stamp of message %d): %d results, want %d", stamp, i+1, len(got), want)
		}
	}
	juliet.Send("<iq type='get' id='md'><metadata xmlns='urn:xmpp:mam:2'/></iq>")
	end := juliet.NextNamed("iq").Child(nsMAM, "metadata").Child(nsMAM, "end").Attr("timestamp")
	if got, _ := query(juliet, "", form("end", end)); len(got) != 5 {
		t.Errorf("end=%s (metadata's <end/>): %d results, want 5", end, len(got))
	}
}

// TestEndAtYearOne: an 'end' of 0001-01-01T00:00:00Z is a valid XEP-0082
// DateTime before every message: nothing matches. It must not be taken
// for "no end".
func TestEndAtYearOne(t *testing.T) {
	t.Parallel()
	juliet := romeoWrites(t, "now")
	for _, end := range []string{"0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00"} {
		if got, iq := query(juliet, "", form("end", end)); len(got) != 0 {
			t.Errorf("end=%s: %q (%s), want nothing", end, bodies(got), iq)
		}
	}
}
