package xmpptest

import (
	"crypto/sha1"
	"encoding/hex"
	"net"
	"testing"
)

// NSComponent is the namespace of the streams components open.
const NSComponent = "jabber:component:accept"

// OpenComponent connects to the component listener at addr and opens a
// component stream (XEP-0114) to domain; it checks the server's header.
func OpenComponent(t testing.TB, addr net.Addr, domain string) *Client {
	t.Helper()
	c := Dial(t, addr)
	c.Send("<?xml version='1.0'?><stream:stream xmlns='" + NSComponent + "' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "'>")
	c.ReadHeader()
	if c.Header.DefaultNS != NSComponent || c.Header.ID == "" || c.Header.From != domain {
		t.Fatalf("server's header %+v, want namespace %s, an id and from %s", c.Header, NSComponent, domain)
	}
	return c
}

// Handshake is a component's proof that it knows secret on the stream
// with id.
func Handshake(id, secret string) string {
	sum := sha1.Sum([]byte(id + secret))
	return "<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>"
}

// ConnectComponent connects the component of domain with secret to the
// listener at addr.
func ConnectComponent(t testing.TB, addr net.Addr, domain, secret string) *Client {
	t.Helper()
	c := OpenComponent(t, addr, domain)
	c.Send(Handshake(c.Header.ID, secret))
	if el := c.Next(); el.Name.Local != "handshake" || el.Name.Space != NSComponent || len(el.Children) != 0 {
		t.Fatalf("got %s, want an empty <handshake/>", el)
	}
	c.JID = domain
	return c
}
