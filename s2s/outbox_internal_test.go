package s2s

import (
	"testing"

	"xmppd/xmlstream"
)

func TestWorthKeeping(t *testing.T) {
	for _, tt := range []struct {
		st   string
		want bool
	}{
		{"<message xmlns='jabber:client' type='chat'><body>hi</body></message>", true},
		{"<message xmlns='jabber:client'><body>hi</body></message>", true},
		{"<message xmlns='jabber:client' type='chat'><received xmlns='urn:xmpp:receipts' id='1'/></message>", true},
		{"<message xmlns='jabber:client' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>", false},
		{"<message xmlns='jabber:client' type='chat'><body>hi</body><no-store xmlns='urn:xmpp:hints'/></message>", false},
		{"<message xmlns='jabber:client' type='groupchat'><body>hi</body></message>", false},
		{"<message xmlns='jabber:client' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'/></message>", false},
		{"<message xmlns='jabber:client' type='error'><body>hi</body></message>", false},
		{"<presence xmlns='jabber:client'/>", false},
	} {
		st, err := xmlstream.ParseStored([]byte(tt.st))
		if err != nil {
			t.Fatal(err)
		}
		if got := worthKeeping(st); got != tt.want {
			t.Errorf("worthKeeping(%s) = %v; want %v", tt.st, got, tt.want)
		}
	}
}
