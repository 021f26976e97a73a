package xmlstream

import (
	"strconv"
	"unicode/utf8"
)

// Append appends the serialised element to b and returns the extended
// buffer. parentNS is the default namespace in effect where the element is
// written: the element declares xmlns='…' only when its namespace differs
// from it, and its children inherit the element's namespace the same way.
//
// Elements are always written with an unprefixed name. xml:lang (any
// attribute with Name.Space "xml" or NSXML) is written with the xml prefix;
// other namespaced attributes get a generated prefix declared on the same
// element. Namespace declarations found in Attrs are skipped. Characters
// that XML 1.0 does not allow (and invalid UTF-8) are dropped from text and
// attribute values, so the output is well-formed as long as the names are
// valid XML names and attribute names are unique.
func (e *Element) Append(b []byte, parentNS string) []byte {
	b = append(b, '<')
	b = append(b, e.Name.Local...)
	if e.Name.Space != parentNS {
		b = append(b, " xmlns='"...)
		b = appendEscaped(b, e.Name.Space, true)
		b = append(b, '\'')
	}
	var (
		spaces []string // namespaces with a generated prefix, index = prefix number
		inline [4]string
	)
	for _, a := range e.Attrs {
		switch a.Name.Space {
		case "":
			if a.Name.Local == "" || a.Name.Local == "xmlns" {
				continue
			}
			b = append(b, ' ')
		case "xml", NSXML:
			b = append(b, " xml:"...)
		case "xmlns", NSXMLNS:
			continue
		default:
			if a.Name.Local == "" {
				continue
			}
			idx := -1
			for i, s := range spaces {
				if s == a.Name.Space {
					idx = i
					break
				}
			}
			if idx < 0 {
				if spaces == nil {
					spaces = inline[:0]
				}
				idx = len(spaces)
				spaces = append(spaces, a.Name.Space)
				b = append(b, " xmlns:a"...)
				b = strconv.AppendInt(b, int64(idx), 10)
				b = append(b, "='"...)
				b = appendEscaped(b, a.Name.Space, true)
				b = append(b, '\'')
			}
			b = append(b, " a"...)
			b = strconv.AppendInt(b, int64(idx), 10)
			b = append(b, ':')
		}
		b = append(b, a.Name.Local...)
		b = append(b, "='"...)
		b = appendEscaped(b, a.Value, true)
		b = append(b, '\'')
	}
	if len(e.Children) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	if e.inner != nil {
		b = append(b, e.inner...)
	} else {
		for _, n := range e.Children {
			b = appendNode(b, n, e.Name.Space)
		}
	}
	b = append(b, "</"...)
	b = append(b, e.Name.Local...)
	return append(b, '>')
}

// appendNode appends the child n of an element in namespace ns.
func appendNode(b []byte, n Node, ns string) []byte {
	switch c := n.(type) {
	case *Element:
		if c != nil {
			b = c.Append(b, ns)
		}
	case Text:
		b = appendEscaped(b, string(c), false)
	}
	return b
}

// plain[c] is true for ASCII bytes that are copied unchanged into both text
// and attribute values.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range "&<>'\"" {
		t[c] = false
	}
	return t
}()

// appendEscaped appends s escaped for an attribute value in single or
// double quotes (attr) or for character data, dropping characters XML 1.0
// does not allow. Whitespace that a parser would normalise (CR everywhere;
// TAB and LF in attribute values) is written as a character reference so
// it survives a round trip.
func appendEscaped(b []byte, s string, attr bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && plain[c] {
			i++
			continue
		}
		var esc string
		width := 1
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\'':
			esc = "&apos;"
			if !attr {
				i++
				continue
			}
		case '"':
			esc = "&quot;"
			if !attr {
				i++
				continue
			}
		case '\r':
			esc = "&#xD;"
		case '\n':
			if !attr {
				i++
				continue
			}
			esc = "&#xA;"
		case '\t':
			if !attr {
				i++
				continue
			}
			esc = "&#x9;"
		default:
			if c < utf8.RuneSelf {
				// other control characters: not allowed in XML 1.0
				esc = ""
				break
			}
			r, n := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && n == 1) || r == 0xFFFE || r == 0xFFFF {
				esc, width = "", n
				break
			}
			i += n
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		i += width
		start = i
	}
	return append(b, s[start:]...)
}
