// Package xmlstream reads and writes the XML of XMPP streams (RFC 6120 §4,
// §11) with bounded memory.
//
// It provides the element tree every other package uses ([Element]), a
// decoder for stream input that enforces the restricted XML profile of
// RFC 6120 §11.1 and size and depth limits ([Decoder], [ParseElement]), and
// a serialiser ([Element.Append]). The tokenizer behind the decoder is an
// implementation detail of this package.
package xmlstream

import (
	"encoding/xml"
	"slices"
	"strings"
)

// Namespace names with a fixed meaning in XML (Namespaces in XML 1.0 §3).
const (
	// NSXML is the namespace bound to the reserved prefix "xml".
	NSXML = "http://www.w3.org/XML/1998/namespace"
	// NSXMLNS is the namespace of namespace declarations.
	NSXMLNS = "http://www.w3.org/2000/xmlns/"
)

// Element is one XML element with its attributes and children.
//
// Name.Space is the resolved namespace name (never a prefix) and Name.Local
// the local name. Attrs holds the attributes without namespace declarations:
// unprefixed attributes have an empty Name.Space, xml:lang and other
// attributes with the reserved xml prefix have Name.Space "xml", and other
// prefixed attributes have Name.Space set to their namespace name.
type Element struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Children []Node

	// inner is the children serialised by EncodeChildren, nil until
	// then; Append writes it instead of encoding Children again.
	inner []byte
}

// EncodeChildren serialises e's children once, now, so that every later
// Append of e, or of a Readdressed copy of it, writes those bytes instead
// of encoding the children again: a message sent to many recipients (a
// room's broadcast) is encoded once. AddChild and AddText on e drop the
// bytes; other changes to the children or their descendants must not
// happen afterwards. Children stays readable.
func (e *Element) EncodeChildren() {
	e.inner = nil
	var b []byte
	for _, n := range e.Children {
		b = appendNode(b, n, e.Name.Space)
	}
	e.inner = b
}

// Readdressed returns a copy of e with attribute local set to value (as
// SetAttr) that shares e's children and their EncodeChildren bytes.
func (e *Element) Readdressed(local, value string) *Element {
	c := &Element{Name: e.Name, Attrs: slices.Clone(e.Attrs), Children: e.Children, inner: e.inner}
	c.SetAttr(local, value)
	return c
}

// Node is a child of an Element: *Element or Text.
type Node interface{ isNode() }

// Text is character data (already unescaped).
type Text string

func (*Element) isNode() {}
func (Text) isNode()     {}

// NewElement returns an element in namespace space with local name local.
// attrs are key, value pairs of unprefixed attributes; pairs with an empty
// value are skipped. NewElement panics if attrs has an odd length.
func NewElement(space, local string, attrs ...string) *Element {
	if len(attrs)%2 != 0 {
		panic("xmlstream: NewElement: odd number of attribute arguments")
	}
	e := &Element{Name: xml.Name{Space: space, Local: local}}
	if len(attrs) > 0 {
		e.Attrs = make([]xml.Attr, 0, len(attrs)/2)
		for i := 0; i < len(attrs); i += 2 {
			if attrs[i+1] != "" {
				e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
			}
		}
	}
	return e
}

// Attr returns the value of the unprefixed attribute local, or "" if it is
// absent.
func (e *Element) Attr(local string) string {
	return e.AttrNS("", local)
}

// AttrNS returns the value of the attribute {space}local, or "" if it is
// absent. Use space "xml" for attributes with the reserved xml prefix.
func (e *Element) AttrNS(space, local string) string {
	for i := range e.Attrs {
		if e.Attrs[i].Name.Local == local && e.Attrs[i].Name.Space == space {
			return e.Attrs[i].Value
		}
	}
	return ""
}

// SetAttr replaces or appends the unprefixed attribute local. An empty
// value removes the attribute.
func (e *Element) SetAttr(local, value string) {
	e.SetAttrNS("", local, value)
}

// SetAttrNS replaces or appends the attribute {space}local. An empty value
// removes the attribute. Use space "xml" for attributes with the reserved
// xml prefix.
func (e *Element) SetAttrNS(space, local, value string) {
	for i := range e.Attrs {
		if e.Attrs[i].Name.Local == local && e.Attrs[i].Name.Space == space {
			if value == "" {
				e.Attrs = append(e.Attrs[:i], e.Attrs[i+1:]...)
			} else {
				e.Attrs[i].Value = value
			}
			return
		}
	}
	if value != "" {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Space: space, Local: local}, Value: value})
	}
}

// Lang returns the element's own xml:lang attribute, or "" if it has none.
// It does not look at ancestors or the stream header.
func (e *Element) Lang() string {
	return e.AttrNS("xml", "lang")
}

// Child returns the first child element named {space}local, or nil. An
// empty space matches any namespace.
func (e *Element) Child(space, local string) *Element {
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && c != nil && c.Name.Local == local && (space == "" || c.Name.Space == space) {
			return c
		}
	}
	return nil
}

// Without returns e without its child elements named {space}local: e
// itself when it has none, otherwise a copy that shares e's attributes and
// other children. e is not changed.
func (e *Element) Without(space, local string) *Element {
	if e.Child(space, local) == nil {
		return e
	}
	cp := &Element{Name: e.Name, Attrs: e.Attrs, Children: make([]Node, 0, len(e.Children)-1)}
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && c != nil && c.Name.Space == space && c.Name.Local == local {
			continue
		}
		cp.Children = append(cp.Children, n)
	}
	return cp
}

// ChildElements returns the child elements in document order.
func (e *Element) ChildElements() []*Element {
	var out []*Element
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && c != nil {
			out = append(out, c)
		}
	}
	return out
}

// FirstChildElement returns the first child element, or nil.
func (e *Element) FirstChildElement() *Element {
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && c != nil {
			return c
		}
	}
	return nil
}

// Text returns the concatenation of the element's direct Text children.
func (e *Element) Text() string {
	var first string
	var b *strings.Builder
	for _, n := range e.Children {
		t, ok := n.(Text)
		if !ok || t == "" {
			continue
		}
		switch {
		case b != nil:
			b.WriteString(string(t))
		case first == "":
			first = string(t)
		default:
			b = new(strings.Builder)
			b.WriteString(first)
			b.WriteString(string(t))
		}
	}
	if b != nil {
		return b.String()
	}
	return first
}

// AddChild appends c to the children and returns e.
func (e *Element) AddChild(c *Element) *Element {
	e.Children = append(e.Children, c)
	e.inner = nil
	return e
}

// AddText appends character data and returns e. Text directly following
// another Text child is merged into it; an empty s adds nothing.
func (e *Element) AddText(s string) *Element {
	if s == "" {
		return e
	}
	e.inner = nil
	if n := len(e.Children); n > 0 {
		if t, ok := e.Children[n-1].(Text); ok {
			e.Children[n-1] = t + Text(s)
			return e
		}
	}
	e.Children = append(e.Children, Text(s))
	return e
}

// Copy returns a deep copy of e. Modifying the copy's attributes or
// children does not change e.
func (e *Element) Copy() *Element {
	if e == nil {
		return nil
	}
	c := &Element{Name: e.Name}
	if e.Attrs != nil {
		c.Attrs = make([]xml.Attr, len(e.Attrs))
		copy(c.Attrs, e.Attrs)
	}
	if e.Children != nil {
		c.Children = make([]Node, len(e.Children))
		for i, n := range e.Children {
			if ce, ok := n.(*Element); ok {
				c.Children[i] = ce.Copy()
			} else {
				c.Children[i] = n
			}
		}
	}
	return c
}

// String returns the serialised element, declaring its namespace.
func (e *Element) String() string {
	return string(e.Append(nil, ""))
}

// Equal reports whether e and o describe the same XML: the same names, the
// same attributes (in any order) and the same children, where adjacent
// Text children count as one and empty Text children are ignored.
func (e *Element) Equal(o *Element) bool {
	if e == nil || o == nil {
		return e == o
	}
	if e.Name != o.Name || !attrsEqual(e.Attrs, o.Attrs) {
		return false
	}
	a, b := normChildren(e.Children), normChildren(o.Children)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		switch x := a[i].(type) {
		case Text:
			if y, ok := b[i].(Text); !ok || x != y {
				return false
			}
		case *Element:
			y, ok := b[i].(*Element)
			if !ok || !x.Equal(y) {
				return false
			}
		}
	}
	return true
}

func attrsEqual(a, b []xml.Attr) bool {
	if len(a) != len(b) {
		return false
	}
	same := true
	for i := range a {
		if a[i] != b[i] {
			same = false
			break
		}
	}
	if same {
		return true
	}
	m := make(map[xml.Name]string, len(a))
	for _, x := range a {
		m[x.Name] = x.Value
	}
	if len(m) != len(a) {
		return false // duplicate names: only identical order counts
	}
	for _, y := range b {
		if v, ok := m[y.Name]; !ok || v != y.Value {
			return false
		}
	}
	return true
}

// normChildren merges adjacent Text children and drops empty ones and nil
// elements.
func normChildren(ns []Node) []Node {
	out := make([]Node, 0, len(ns))
	for _, n := range ns {
		switch c := n.(type) {
		case Text:
			if c == "" {
				continue
			}
			if k := len(out); k > 0 {
				if t, ok := out[k-1].(Text); ok {
					out[k-1] = t + c
					continue
				}
			}
			out = append(out, c)
		case *Element:
			if c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}
