package offline

import (
	"testing"
	"time"

	"xmppd/xmlstream"
)

func parse(t *testing.T, s string) *xmlstream.Element {
	t.Helper()
	el, err := xmlstream.ParseElement([]byte(s), xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func TestWorthStoring(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"<message xmlns='jabber:client'><body>hi</body></message>", true},
		{"<message xmlns='jabber:client'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>", true},
		{"<message xmlns='jabber:client'><received xmlns='urn:xmpp:receipts' id='a'/></message>", true},
		{"<message xmlns='jabber:client'><subject>s</subject></message>", true},
		{"<message xmlns='jabber:client'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", false},
		{"<message xmlns='jabber:client'><thread>t</thread><paused xmlns='http://jabber.org/protocol/chatstates'/><no-copy xmlns='urn:xmpp:hints'/></message>", false},
		{"<message xmlns='jabber:client'/>", false},
	}
	for _, tt := range tests {
		if got := WorthStoring(parse(t, tt.msg)); got != tt.want {
			t.Errorf("WorthStoring(%s) = %v; want %v", tt.msg, got, tt.want)
		}
	}
}

func TestDelayed(t *testing.T) {
	when := time.Date(2002, 9, 10, 23, 8, 25, 123456789, time.FixedZone("", 2*3600))
	got := Delayed(parse(t, "<message xmlns='jabber:client'><body>b</body></message>"), "capulet.lit", when)
	want := parse(t, "<message xmlns='jabber:client'><body>b</body><delay xmlns='urn:xmpp:delay' from='capulet.lit' stamp='2002-09-10T21:08:25.123Z'>Offline Storage</delay></message>")
	if !got.Equal(want) {
		t.Errorf("got %s; want %s", got, want)
	}
	// A message that already went through here keeps its first stamp;
	// another server's delay does not count.
	again := Delayed(got.Copy(), "capulet.lit", when.Add(time.Hour))
	if !again.Equal(want) {
		t.Errorf("delayed twice: %s; want %s", again, want)
	}
	other := parse(t, "<message xmlns='jabber:client'><delay xmlns='urn:xmpp:delay' from='montague.lit' stamp='2002-09-10T21:00:00Z'/></message>")
	if n := len(Delayed(other, "capulet.lit", when).ChildElements()); n != 2 {
		t.Errorf("a delay from another server stopped ours: %d children", n)
	}
}
