package server

import (
	"slices"

	"xmppd/config"
	"xmppd/dataform"
	"xmppd/xmlstream"
)

// nsServerInfo is the FORM_TYPE of XEP-0157's contact addresses.
const nsServerInfo = "http://jabber.org/network/serverinfo"

// nsOutageStatus is the FORM_TYPE of XEP-0455's outage status addresses.
const nsOutageStatus = "urn:xmpp:sos:0"

// contactForm returns the server's contact addresses as the extended
// service discovery forms of XEP-0157 and XEP-0455, or nothing when none
// are set.
func contactForm(c config.Contact) []*xmlstream.Element {
	var forms []*xmlstream.Element
	if len(c.OutageStatus) > 0 {
		forms = append(forms, dataform.Form{Type: "result", Fields: []dataform.Field{
			{Var: "FORM_TYPE", Type: "hidden", Values: []string{nsOutageStatus}},
			{Var: "external-status-addresses", Values: c.OutageStatus},
		}}.Element())
	}
	fields := c.Fields()
	if len(fields) == 0 {
		return forms
	}
	f := dataform.Form{Type: "result", Fields: []dataform.Field{{Var: "FORM_TYPE", Type: "hidden", Values: []string{nsServerInfo}}}}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f.Fields = append(f.Fields, dataform.Field{Var: name, Values: fields[name]})
	}
	return append(forms, f.Element())
}
