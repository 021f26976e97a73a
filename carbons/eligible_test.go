package carbons

import (
	"testing"

	"xmppd/xmlstream"
)

// XEP-0280 §6: which messages are copied, in both directions.
func TestEligible(t *testing.T) {
	for _, tt := range []struct {
		name     string
		xml      string
		sent     bool // copied when a client sends it
		received bool // copied when the account receives it
	}{
		{"chat", "<message xmlns='jabber:client' type='chat'><body>hi</body></message>", true, true},
		{"chat without body", "<message xmlns='jabber:client' type='chat'/>", true, true},
		{"normal with body", "<message xmlns='jabber:client'><body>hi</body></message>", true, true},
		{"normal typed, with body", "<message xmlns='jabber:client' type='normal'><body>hi</body></message>", true, true},
		{"normal without body", "<message xmlns='jabber:client'><subject>s</subject></message>", false, false},
		{"receipt", "<message xmlns='jabber:client'><received xmlns='urn:xmpp:receipts' id='a'/></message>", true, true},
		{"chat state", "<message xmlns='jabber:client'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", true, true},
		{"chat marker", "<message xmlns='jabber:client'><displayed xmlns='urn:xmpp:chat-markers:0' id='a'/></message>", true, true},
		{"direct invitation", "<message xmlns='jabber:client'><x xmlns='jabber:x:conference' jid='room@muc.example'/></message>", true, true},
		{"mediated invitation", "<message xmlns='jabber:client' from='room@muc.example'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@example'/></x></message>", true, true},
		{"MUC private message", "<message xmlns='jabber:client' type='chat' from='room@muc.example/nick'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", true, false},
		{"headline", "<message xmlns='jabber:client' type='headline'><body>news</body></message>", false, false},
		{"groupchat", "<message xmlns='jabber:client' type='groupchat'><body>all</body></message>", false, false},
		{"error", "<message xmlns='jabber:client' type='error'><body>hi</body></message>", false, false},
		{"private", "<message xmlns='jabber:client' type='chat'><body>hi</body><private xmlns='urn:xmpp:carbons:2'/></message>", false, false},
		{"no-copy", "<message xmlns='jabber:client' type='chat'><body>hi</body><no-copy xmlns='urn:xmpp:hints'/></message>", false, false},
		{"other hint", "<message xmlns='jabber:client' type='chat'><body>hi</body><no-store xmlns='urn:xmpp:hints'/></message>", true, true},
		{"sent carbon", "<message xmlns='jabber:client' type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'/></sent></message>", false, false},
		{"received carbon", "<message xmlns='jabber:client' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'/></received></message>", false, false},
		{"presence", "<presence xmlns='jabber:client'/>", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := xmlstream.ParseElement([]byte(tt.xml), xmlstream.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := eligible(st, false); got != tt.sent {
				t.Errorf("sent: eligible = %v, want %v", got, tt.sent)
			}
			if got := eligible(st, true); got != tt.received {
				t.Errorf("received: eligible = %v, want %v", got, tt.received)
			}
		})
	}
}
