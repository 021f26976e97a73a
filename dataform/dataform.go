// Package dataform reads and writes XEP-0004 data forms (jabber:x:data),
// as far as the server's modules need them: a form's type, its fields
// and their values.
package dataform

import "xmppd/xmlstream"

// NS is the namespace of XEP-0004.
const NS = "jabber:x:data"

// Field is one field of a form.
type Field struct {
	Var    string
	Type   string // "" when the form does not say
	Label  string // for people; written, not read
	Values []string
	// Options are the choices of a list-single or list-multi field
	// (XEP-0004 §3.3), which a form to fill must offer; written, not
	// read.
	Options []Option
	// Required marks a field the form's filler must give; written, not
	// read.
	Required bool
}

// Option is one choice of a list field: its value, and a label for
// people (may be empty).
type Option struct {
	Label, Value string
}

// Form is a data form.
type Form struct {
	// Type is the form's type: form, submit, cancel or result.
	Type string
	// Title and Instructions are for people; written, not read.
	Title, Instructions string
	Fields              []Field
}

// Parse reads the form x, an <x xmlns='jabber:x:data'/> element. Fields
// without a var (fixed text) are left out.
func Parse(x *xmlstream.Element) Form {
	f := Form{Type: x.Attr("type")}
	for _, c := range x.ChildElements() {
		if c.Name.Space != NS || c.Name.Local != "field" || c.Attr("var") == "" {
			continue
		}
		fd := Field{Var: c.Attr("var"), Type: c.Attr("type")}
		for _, v := range c.ChildElements() {
			if v.Name.Space == NS && v.Name.Local == "value" {
				fd.Values = append(fd.Values, v.Text())
			}
		}
		f.Fields = append(f.Fields, fd)
	}
	return f
}

// Find returns the form among children (e.g. an IQ payload's) whose
// FORM_TYPE is formType, or false.
func Find(children []*xmlstream.Element, formType string) (Form, bool) {
	for _, c := range children {
		if c.Name.Space == NS && c.Name.Local == "x" {
			if f := Parse(c); f.FormType() == formType {
				return f, true
			}
		}
	}
	return Form{}, false
}

// Field returns the field named v, or false.
func (f Form) Field(v string) (Field, bool) {
	for _, fd := range f.Fields {
		if fd.Var == v {
			return fd, true
		}
	}
	return Field{}, false
}

// FormType returns the value of the form's FORM_TYPE field (XEP-0068), or
// "" when it has none.
func (f Form) FormType() string {
	if fd, ok := f.Field("FORM_TYPE"); ok && len(fd.Values) > 0 {
		return fd.Values[0]
	}
	return ""
}

// Element returns f as an <x xmlns='jabber:x:data'/> element.
func (f Form) Element() *xmlstream.Element {
	x := xmlstream.NewElement(NS, "x", "type", f.Type)
	if f.Title != "" {
		x.AddChild(xmlstream.NewElement(NS, "title").AddText(f.Title))
	}
	if f.Instructions != "" {
		x.AddChild(xmlstream.NewElement(NS, "instructions").AddText(f.Instructions))
	}
	for _, fd := range f.Fields {
		el := xmlstream.NewElement(NS, "field", "var", fd.Var)
		if fd.Type != "" {
			el.SetAttr("type", fd.Type)
		}
		if fd.Label != "" {
			el.SetAttr("label", fd.Label)
		}
		if fd.Required {
			el.AddChild(xmlstream.NewElement(NS, "required"))
		}
		for _, v := range fd.Values {
			el.AddChild(xmlstream.NewElement(NS, "value").AddText(v))
		}
		for _, o := range fd.Options {
			opt := xmlstream.NewElement(NS, "option")
			if o.Label != "" {
				opt.SetAttr("label", o.Label)
			}
			el.AddChild(opt.AddChild(xmlstream.NewElement(NS, "value").AddText(o.Value)))
		}
		x.AddChild(el)
	}
	return x
}

// ParseBool reads a field's boolean value (XML Schema's xs:boolean: 1,
// true, 0 or false); ok is false for anything else.
func ParseBool(v string) (b, ok bool) {
	switch v {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}
