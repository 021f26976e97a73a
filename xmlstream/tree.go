package xmlstream

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

// The decoder builds the element being read as a flat tree of indexes into
// its scratch slices and the tokenizer's out buffer, and makes the Element
// tree only when the element is complete: one string for all its text,
// attribute values and names that are not interned, one slice each of
// Elements, attributes and children. An element of any size thus takes a
// handful of allocations.

// ref is a string of the element being read: s if off < 0 (interned, or
// kept from the stream header), else out[off:off+n].
type ref struct {
	s      string
	off, n int
}

func strRef(s string) ref { return ref{s: s, off: -1} }

type binding struct{ prefix, uri ref }

// frame is an open element of the element being read.
type frame struct {
	el     int // index in pels
	prefix ref // the prefix as written, for matching the end tag
	mark   int // len(ns) before the element's own declarations
	kids   int // len(pending) when the element was opened
}

// pel is an element of the flat tree.
type pel struct {
	space, local ref
	attr0, nattr int // in pattrs
	kid0, nkid   int // in kids
}

type pattr struct{ space, local, value ref }

// pnode is a child: the element pels[el], or if el < 0 the text
// out[off:off+n].
type pnode struct{ el, off, n int }

// bytesOf returns the bytes of r, for comparing.
func (d *Decoder) bytesOf(r ref) []byte {
	if r.off < 0 {
		return nil
	}
	return d.tok.out[r.off : r.off+r.n]
}

// refIs reports whether r holds the bytes b.
func (d *Decoder) refIs(r ref, b []byte) bool {
	if r.off < 0 {
		return r.s == string(b)
	}
	return bytes.Equal(d.tok.out[r.off:r.off+r.n], b)
}

// refEqual reports whether a and b hold the same bytes.
func (d *Decoder) refEqual(a, b ref) bool {
	switch {
	case a.off < 0 && b.off < 0:
		return a.s == b.s
	case a.off < 0:
		return a.s == string(d.bytesOf(b))
	case b.off < 0:
		return b.s == string(d.bytesOf(a))
	}
	return bytes.Equal(d.bytesOf(a), d.bytesOf(b))
}

// string returns r as a string of its own.
func (d *Decoder) string(r ref) string {
	if r.off < 0 {
		return r.s
	}
	return string(d.bytesOf(r))
}

// nameRef returns a ref for a name in the tokenizer's names buffer, which
// is overwritten by the next token: interned, or copied to out.
func (d *Decoder) nameRef(s span) ref {
	b := d.tok.names[s.off:s.end]
	if is, ok := intern(b); ok {
		return strRef(is)
	}
	off := len(d.tok.out)
	d.tok.out = append(d.tok.out, b...)
	return ref{off: off, n: len(b)}
}

// valueRef returns a ref for an attribute value in out, interned if it is
// a common namespace name.
func (d *Decoder) valueRef(s span) ref {
	if is, ok := intern(d.tok.out[s.off:s.end]); ok {
		return strRef(is)
	}
	return ref{off: s.off, n: s.end - s.off}
}

// startTree clears the flat tree for a new element.
func (d *Decoder) startTree() {
	d.borrow()
	d.tok.out = d.tok.out[:0]
	d.pels, d.pattrs, d.pending, d.kids = d.pels[:0], d.pattrs[:0], d.pending[:0], d.kids[:0]
	d.textOff = -1
}

// open resolves the start tag just read and makes it the innermost open
// element.
func (d *Decoder) open() error {
	mark := len(d.ns)
	attr0 := len(d.pattrs)
	space, local, prefix, err := d.resolve(mark)
	if err != nil {
		return err
	}
	idx := len(d.pels)
	d.pels = append(d.pels, pel{space: space, local: local, attr0: attr0, nattr: len(d.pattrs) - attr0})
	if len(d.stack) > 0 {
		d.pending = append(d.pending, pnode{el: idx})
	}
	d.stack = append(d.stack, frame{el: idx, prefix: prefix, mark: mark, kids: len(d.pending)})
	if d.tok.empty {
		d.close()
	}
	return nil
}

// matchesTop reports whether the end tag just read closes the innermost
// open element.
func (d *Decoder) matchesTop() bool {
	top := &d.stack[len(d.stack)-1]
	t := &d.tok
	return d.refIs(top.prefix, t.names[t.name.prefix.off:t.name.prefix.end]) &&
		d.refIs(d.pels[top.el].local, t.names[t.name.local.off:t.name.local.end])
}

// topName returns the innermost open element's name as written.
func (d *Decoder) topName() string {
	top := &d.stack[len(d.stack)-1]
	local := d.string(d.pels[top.el].local)
	if p := d.string(top.prefix); p != "" {
		return p + ":" + local
	}
	return local
}

// close ends the innermost open element.
func (d *Decoder) close() {
	top := d.stack[len(d.stack)-1]
	p := &d.pels[top.el]
	p.kid0, p.nkid = len(d.kids), len(d.pending)-top.kids
	d.kids = append(d.kids, d.pending[top.kids:]...)
	d.pending = d.pending[:top.kids]
	d.ns = d.ns[:top.mark]
	d.stack = d.stack[:len(d.stack)-1]
}

// addText notes character data just read; adjacent runs (text and CDATA)
// lie next to each other in out and become one Text.
func (d *Decoder) addText() {
	if d.textOff < 0 {
		d.textOff = d.tok.text.off
	}
	d.textEnd = d.tok.text.end
}

// flushText adds the pending character data to the innermost open element.
func (d *Decoder) flushText() {
	if d.textOff >= 0 && d.textEnd > d.textOff {
		d.pending = append(d.pending, pnode{el: -1, off: d.textOff, n: d.textEnd - d.textOff})
	}
	d.textOff = -1
}

// build makes the Element tree of the flat tree.
func (d *Decoder) build() *Element {
	s := string(d.tok.out)
	str := func(r ref) string {
		if r.off < 0 {
			return r.s
		}
		return s[r.off : r.off+r.n]
	}
	els := make([]Element, len(d.pels))
	var attrs []xml.Attr
	if len(d.pattrs) > 0 {
		attrs = make([]xml.Attr, len(d.pattrs))
		for i, a := range d.pattrs {
			attrs[i] = xml.Attr{Name: xml.Name{Space: str(a.space), Local: str(a.local)}, Value: str(a.value)}
		}
	}
	var kids []Node
	if len(d.kids) > 0 {
		kids = make([]Node, len(d.kids))
		for i, k := range d.kids {
			if k.el >= 0 {
				kids[i] = &els[k.el]
			} else {
				kids[i] = Text(s[k.off : k.off+k.n])
			}
		}
	}
	for i, p := range d.pels {
		e := &els[i]
		e.Name = xml.Name{Space: str(p.space), Local: str(p.local)}
		if p.nattr > 0 {
			// Full slice expressions: appending to one element's
			// attributes or children must not overwrite another's.
			e.Attrs = attrs[p.attr0 : p.attr0+p.nattr : p.attr0+p.nattr]
		}
		if p.nkid > 0 {
			e.Children = kids[p.kid0 : p.kid0+p.nkid : p.kid0+p.nkid]
		}
	}
	return &els[0]
}

// maxBindings bounds the namespace declarations in scope at once (the
// stream header's included). Each name is looked up among them, and each
// declaration checked against the element's others, so without a bound a
// stanza of many declarations and many elements costs time quadratic in
// its size.
const maxBindings = 128

// resolve pushes the namespace declarations of the start tag just read
// onto d.ns (mark is len(d.ns) before), appends its other attributes,
// resolved, to d.pattrs, and returns the element's namespace, local name
// and prefix.
func (d *Decoder) resolve(mark int) (space, local, prefix ref, err error) {
	t := &d.tok
	part := func(s span) []byte { return t.names[s.off:s.end] }
	for _, a := range t.attrs {
		var p []byte
		switch ap, al := part(a.name.prefix), part(a.name.local); {
		case len(ap) == 0 && string(al) == "xmlns":
		case string(ap) == "xmlns":
			p = al
		default:
			continue
		}
		uri := t.out[a.val.off:a.val.end]
		if err := checkBinding(p, uri); err != nil {
			return ref{}, ref{}, ref{}, err
		}
		for _, b := range d.ns[mark:] {
			if d.refIs(b.prefix, p) {
				return ref{}, ref{}, ref{}, syntaxErr("duplicate attribute " + rawName(part(a.name.prefix), part(a.name.local)))
			}
		}
		var pr ref
		if len(p) > 0 {
			pr = d.nameRef(a.name.local)
		}
		d.ns = append(d.ns, binding{prefix: pr, uri: d.valueRef(a.val)})
		if len(d.ns) > maxBindings {
			return ref{}, ref{}, ref{}, newError(CondPolicyViolation, "more than "+strconv.Itoa(maxBindings)+" namespace declarations in scope")
		}
	}

	np, nl := part(t.name.prefix), part(t.name.local)
	if !validLocal(nl) {
		return ref{}, ref{}, ref{}, syntaxErr("invalid element name " + strconv.Quote(rawName(np, nl)))
	}
	if string(np) == "xml" || string(np) == "xmlns" {
		return ref{}, ref{}, ref{}, syntaxErr("reserved prefix on element <" + rawName(np, nl) + ">")
	}
	space, ok := d.lookup(np)
	if !ok {
		return ref{}, ref{}, ref{}, syntaxErr("undeclared namespace prefix " + strconv.Quote(string(np)))
	}
	if len(np) > 0 {
		prefix = d.nameRef(t.name.prefix)
	}
	local = d.nameRef(t.name.local)

	first := len(d.pattrs)
	for _, a := range t.attrs {
		ap, al := part(a.name.prefix), part(a.name.local)
		if len(ap) == 0 && string(al) == "xmlns" || string(ap) == "xmlns" {
			continue
		}
		if !validLocal(al) {
			return ref{}, ref{}, ref{}, syntaxErr("invalid attribute name " + strconv.Quote(rawName(ap, al)))
		}
		var as ref
		switch string(ap) {
		case "":
		case "xml":
			as = strRef("xml")
		default:
			uri, ok := d.lookup(ap)
			if !ok {
				return ref{}, ref{}, ref{}, syntaxErr("undeclared namespace prefix " + strconv.Quote(string(ap)))
			}
			if d.refIs(uri, []byte("xml")) || d.refIs(uri, []byte("xmlns")) {
				// Would be indistinguishable from the xml prefix, or
				// taken by Append for a namespace declaration.
				return ref{}, ref{}, ref{}, syntaxErr("attribute in namespace " + strconv.Quote(d.string(uri)))
			}
			as = uri
		}
		d.pattrs = append(d.pattrs, pattr{space: as, local: d.nameRef(a.name.local), value: ref{off: a.val.off, n: a.val.end - a.val.off}})
	}
	if d.hasDuplicate(d.pattrs[first:]) {
		return ref{}, ref{}, ref{}, syntaxErr("duplicate attribute")
	}
	return space, local, prefix, nil
}

// lookup returns the namespace bound to prefix (empty for the default
// namespace when none is declared).
func (d *Decoder) lookup(prefix []byte) (ref, bool) {
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.refIs(d.ns[i].prefix, prefix) {
			return d.ns[i].uri, true
		}
	}
	return ref{}, len(prefix) == 0
}

func (d *Decoder) hasDuplicate(attrs []pattr) bool {
	if len(attrs) <= 8 {
		for i := 1; i < len(attrs); i++ {
			for j := 0; j < i; j++ {
				if d.refEqual(attrs[i].local, attrs[j].local) && d.refEqual(attrs[i].space, attrs[j].space) {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[xml.Name]struct{}, len(attrs))
	for _, a := range attrs {
		n := xml.Name{Space: d.string(a.space), Local: d.string(a.local)}
		if _, ok := seen[n]; ok {
			return true
		}
		seen[n] = struct{}{}
	}
	return false
}

// checkBinding applies the constraints of Namespaces in XML 1.0 §3 to a
// declaration of prefix (empty for the default namespace).
func checkBinding(prefix, uri []byte) error {
	switch {
	case string(prefix) == "xmlns":
		return syntaxErr("the xmlns prefix cannot be declared")
	case string(prefix) == "xml":
		if string(uri) != NSXML {
			return syntaxErr("the xml prefix cannot be rebound")
		}
		// Allowed but redundant: the xml prefix is always bound.
	case string(uri) == NSXML || string(uri) == NSXMLNS:
		return syntaxErr("reserved namespace " + strconv.Quote(string(uri)) + " cannot be declared")
	case len(prefix) > 0 && len(uri) == 0:
		return syntaxErr("prefix " + strconv.Quote(string(prefix)) + " bound to an empty namespace")
	case len(prefix) > 0 && !validLocal(prefix):
		return syntaxErr("invalid prefix " + strconv.Quote(string(prefix)))
	}
	return nil
}

func rawName(prefix, local []byte) string {
	if len(prefix) == 0 {
		return string(local)
	}
	return string(prefix) + ":" + string(local)
}
