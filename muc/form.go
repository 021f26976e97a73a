package muc

import (
	"strconv"

	"xmppd/xmlstream"
)

// form builds a XEP-0004 data form.
type form struct{ x *xmlstream.Element }

func newForm(typ, formType string) form {
	f := form{xmlstream.NewElement(NSData, "x", "type", typ)}
	f.x.AddChild(xmlstream.NewElement(NSData, "field", "var", "FORM_TYPE", "type", "hidden").
		AddChild(xmlstream.NewElement(NSData, "value").AddText(formType)))
	return f
}

// field adds a field; typ may be "" (as in results).
func (f form) field(name, typ, value string) {
	el := xmlstream.NewElement(NSData, "field", "var", name, "type", typ)
	el.AddChild(xmlstream.NewElement(NSData, "value").AddText(value))
	f.x.AddChild(el)
}

// values adds a field of several values; typ may be "".
func (f form) values(name, typ string, values ...string) {
	el := xmlstream.NewElement(NSData, "field", "var", name, "type", typ)
	for _, v := range values {
		el.AddChild(xmlstream.NewElement(NSData, "value").AddText(v))
	}
	f.x.AddChild(el)
}

// options adds a list-single field with its options.
func (f form) options(name, value string, options ...string) {
	el := xmlstream.NewElement(NSData, "field", "var", name, "type", "list-single")
	el.AddChild(xmlstream.NewElement(NSData, "value").AddText(value))
	for _, o := range options {
		el.AddChild(xmlstream.NewElement(NSData, "option").AddChild(xmlstream.NewElement(NSData, "value").AddText(o)))
	}
	f.x.AddChild(el)
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// formValues returns the first value of each field of a submitted form.
func formValues(x *xmlstream.Element) map[string]string {
	vals := map[string]string{}
	for _, f := range x.ChildElements() {
		if f.Name.Space != NSData || f.Name.Local != "field" {
			continue
		}
		vals[f.Attr("var")] = text(f.Child(NSData, "value"))
	}
	return vals
}

// parseMaxUsers reads muc#roomconfig_maxusers; "none" is no limit (0).
func parseMaxUsers(v string) (int, bool) {
	if v == "none" || v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n > 0
}
