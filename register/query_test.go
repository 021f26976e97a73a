package register

import (
	"testing"

	"xmppd/xmlstream"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		xml  string
		want request
	}{
		{`<query xmlns='jabber:iq:register'><username> juliet </username><password>a b </password></query>`,
			request{username: "juliet", password: "a b "}},
		{`<query xmlns='jabber:iq:register'><username>juliet</username><password>x</password><token>T</token></query>`,
			request{username: "juliet", password: "x", token: "T"}},
		{`<query xmlns='jabber:iq:register'><username>ignored</username><x xmlns='jabber:x:data' type='submit'>
			<field var='FORM_TYPE'><value>jabber:iq:register</value></field>
			<field var='username'><value>juliet</value></field>
			<field var='password'><value>x</value></field>
			<field var='token'><value>T</value></field></x></query>`,
			request{username: "juliet", password: "x", token: "T"}},
		{`<query xmlns='jabber:iq:register'><remove/></query>`, request{remove: true, alone: true}},
		{`<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>
			<field var='FORM_TYPE'><value>jabber:iq:register:cancel</value></field>
			<field var='username'><value>juliet</value></field>
			<field var='password'><value>x</value></field></x></query>`,
			request{username: "juliet", password: "x", remove: true, alone: true}},
		{`<query xmlns='jabber:iq:register'><remove/><username>juliet</username></query>`,
			request{username: "juliet", remove: true}},
		{`<query xmlns='jabber:iq:register'><username xmlns='urn:other'>juliet</username></query>`, request{}},
	}
	for _, tt := range tests {
		q, err := xmlstream.ParseElement([]byte(tt.xml), xmlstream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 16})
		if err != nil {
			t.Fatal(err)
		}
		if got := parseQuery(q); got != tt.want {
			t.Errorf("parseQuery(%s) = %+v, want %+v", tt.xml, got, tt.want)
		}
	}
}

func TestRegistrationForm(t *testing.T) {
	tests := []struct {
		invites bool
		want    string
	}{
		{false, `<query xmlns="jabber:iq:register"><instructions>Choose a username and password.</instructions><username/><password/></query>`},
		{true, `<query xmlns="jabber:iq:register"><instructions>Registration needs an invitation. Choose a username and password, and give the invitation token.</instructions><username/><password/>` +
			`<x xmlns="jabber:x:data" type="form"><title>Account registration</title><instructions>Registration needs an invitation. Choose a username and password, and give the invitation token.</instructions>` +
			`<field type="hidden" var="FORM_TYPE"><value>jabber:iq:register</value></field>` +
			`<field type="text-single" var="username" label="Username"><required/></field>` +
			`<field type="text-private" var="password" label="Password"><required/></field>` +
			`<field type="text-single" var="token" label="Invitation token"><required/></field></x></query>`},
	}
	for _, tt := range tests {
		want, err := xmlstream.ParseElement([]byte(tt.want), xmlstream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 16})
		if err != nil {
			t.Fatal(err)
		}
		if got := registrationForm(tt.invites); !got.Equal(want) {
			t.Errorf("registrationForm(%v) =\n%s\nwant\n%s", tt.invites, got, want)
		}
	}
}
