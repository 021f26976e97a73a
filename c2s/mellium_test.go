package c2s_test

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"net"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xmppd/internal/xmpptest"
)

// mellium's client logs in over STARTTLS with SCRAM and chats with a raw
// client in both directions.
func TestMelliumClient(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	romeo.Online()

	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.ReadTimeout)
	defer cancel()
	conn, err := net.Dial("tcp", s.C2SAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	origin := jid.MustParse("juliet@localhost")
	session, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(&tls.Config{ServerName: "localhost", InsecureSkipVerify: true}),
		xmpp.SASL("", "secret", sasl.ScramSha256Plus, sasl.ScramSha256),
		xmpp.BindResource(),
	)
	if err != nil {
		t.Fatalf("mellium login: %v", err)
	}
	defer session.Close()
	if session.LocalAddr().Bare().String() != "juliet@localhost" || session.LocalAddr().Resourcepart() == "" {
		t.Fatalf("bound %s", session.LocalAddr())
	}

	received := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- session.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local != "message" {
				return nil
			}
			var msg struct {
				From string
				Body string `xml:"body"`
			}
			for _, a := range start.Attr {
				if a.Name.Local == "from" {
					msg.From = a.Value
				}
			}
			if err := xml.NewTokenDecoder(xmlstream.Wrap(xmlstream.Inner(r), xml.StartElement{Name: xml.Name{Local: "m"}})).Decode(&msg); err != nil {
				return err
			}
			received <- msg.From + ": " + msg.Body
			return nil
		}))
	}()

	body := xmlstream.Wrap(xmlstream.Token(xml.CharData("hello from mellium")), xml.StartElement{Name: xml.Name{Local: "body"}})
	err = session.Send(ctx, stanza.Message{To: jid.MustParse("romeo@localhost/orchard"), Type: stanza.ChatMessage}.Wrap(body))
	if err != nil {
		t.Fatal(err)
	}
	m := romeo.NextNamed("message")
	if m.Attr("from") != session.LocalAddr().String() || m.Child("jabber:client", "body").Text() != "hello from mellium" {
		t.Fatalf("romeo got %s", m)
	}
	romeo.Send("<message to='" + session.LocalAddr().String() + "' type='chat'><body>hello mellium</body></message>")
	select {
	case got := <-received:
		if got != "romeo@localhost/orchard: hello mellium" {
			t.Fatalf("mellium got %q", got)
		}
	case err := <-served:
		t.Fatalf("mellium stopped serving: %v", err)
	case <-ctx.Done():
		t.Fatal("mellium received nothing")
	}
}
