package register

import (
	"strings"

	"xmppd/xmlstream"
)

// formRegister is the FORM_TYPE of the registration form, formCancel that
// of the cancellation form (XEP-0077 §12.4).
const (
	formRegister       = NS
	formCancel         = NS + ":cancel"
	formChangePassword = NS + ":changepassword"
)

// request is what a jabber:iq:register query asks for.
type request struct {
	username, password, token string
	// oldPassword is the old_password field of a password change form
	// (§3.3); hasOld is true when the form has that field.
	oldPassword string
	hasOld      bool
	// remove is a cancellation (§3.2); alone is false when <remove/> is
	// not the only child.
	remove, alone bool
	// changePassword is true for a password change form (§3.3).
	changePassword bool
}

// parseQuery reads a query either as a submitted data form, which takes
// precedence (XEP-0077 §6), or as the fixed iq:register fields. The
// invitation token comes from the form's "token" field, or from a
// <token/> child, which plain-field clients of some servers send.
func parseQuery(q *xmlstream.Element) request {
	var req request
	children := q.ChildElements()
	if x := q.Child(NSData, "x"); x != nil && x.Attr("type") == "submit" {
		for _, f := range x.ChildElements() {
			if f.Name.Local != "field" {
				continue
			}
			v := ""
			if val := f.Child(NSData, "value"); val != nil {
				v = val.Text()
			}
			switch f.Attr("var") {
			case "FORM_TYPE":
				// A cancellation form asks for removal as <remove/>
				// does (§3.2); its password confirms, it is no new one.
				switch v {
				case formCancel:
					req.remove, req.alone = true, len(children) == 1
				case formChangePassword:
					req.changePassword = true
				}
			case "username":
				req.username = v
			case "password":
				req.password = v
			case "old_password":
				req.oldPassword, req.hasOld = v, true
			case "token":
				req.token = v
			}
		}
	} else {
		for _, c := range children {
			if c.Name.Space != NS {
				continue
			}
			switch c.Name.Local {
			case "username":
				req.username = c.Text()
			case "password":
				req.password = c.Text()
			case "token":
				req.token = c.Text()
			}
		}
	}
	req.username = strings.TrimSpace(req.username)
	req.token = strings.TrimSpace(req.token)
	if q.Child(NS, "remove") != nil {
		req.remove = true
		req.alone = len(children) == 1
	}
	return req
}

// registrationForm is the answer to a registration get: instructions and
// the username and password fields. With invitations it adds a data form
// carrying the token field too; plain-field clients give the token with
// the XEP-0445 preauth IQ instead.
func registrationForm(invites bool) *xmlstream.Element {
	q := xmlstream.NewElement(NS, "query")
	text := "Choose a username and password."
	if invites {
		text = "Registration needs an invitation. Choose a username and password, and give the invitation token."
	}
	q.AddChild(xmlstream.NewElement(NS, "instructions").AddText(text))
	q.AddChild(xmlstream.NewElement(NS, "username"))
	q.AddChild(xmlstream.NewElement(NS, "password"))
	if !invites {
		return q
	}
	x := xmlstream.NewElement(NSData, "x", "type", "form")
	x.AddChild(xmlstream.NewElement(NSData, "title").AddText("Account registration"))
	x.AddChild(xmlstream.NewElement(NSData, "instructions").AddText(text))
	x.AddChild(xmlstream.NewElement(NSData, "field", "type", "hidden", "var", "FORM_TYPE").
		AddChild(xmlstream.NewElement(NSData, "value").AddText(formRegister)))
	for _, f := range []struct{ typ, name, label string }{
		{"text-single", "username", "Username"},
		{"text-private", "password", "Password"},
		{"text-single", "token", "Invitation token"},
	} {
		x.AddChild(xmlstream.NewElement(NSData, "field", "type", f.typ, "var", f.name, "label", f.label).
			AddChild(xmlstream.NewElement(NSData, "required")))
	}
	return q.AddChild(x)
}
