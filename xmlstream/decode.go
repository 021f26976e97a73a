package xmlstream

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// NSStream is the namespace of the stream header and stream-level elements
// such as stream:features and stream:error (RFC 6120 §4.8.1).
const NSStream = "http://etherx.jabber.org/streams"

// Default limits, used where a Limits field is zero or negative.
const (
	DefaultMaxStanzaBytes = 262144
	DefaultMaxDepth       = 32
)

// Limits bound what the decoder accepts.
type Limits struct {
	// MaxStanzaBytes is the most bytes one top-level element may take on
	// the wire, and also the most the stream header (with the XML
	// declaration before it) may take. Default 262144.
	MaxStanzaBytes int
	// MaxDepth is the deepest nesting allowed, counting the top-level
	// element as 1: <message><body/></message> has depth 2. Default 32.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxStanzaBytes <= 0 {
		l.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Stream error conditions (RFC 6120 §4.9.3) reported in Error.Condition.
const (
	CondNotWellFormed    = "not-well-formed"
	CondRestrictedXML    = "restricted-xml"
	CondPolicyViolation  = "policy-violation"
	CondBadFormat        = "bad-format"
	CondInvalidNamespace = "invalid-namespace"
	CondInvalidXML       = "invalid-xml"
)

// Error is a violation that maps to an RFC 6120 stream error condition.
// Condition is one of the Cond constants; Text describes the problem and
// is suitable for logs (and for the stream error's text, if desired).
type Error struct {
	Condition string
	Text      string
}

// Error returns the condition and the description.
func (e *Error) Error() string {
	return "xmlstream: " + e.Condition + ": " + e.Text
}

func newError(cond, text string) *Error { return &Error{Condition: cond, Text: text} }

// ErrStreamEnd is returned by ReadElement when the peer closed the stream
// with its end tag (</stream:stream>).
var ErrStreamEnd = errors.New("xmlstream: end of stream")

// Header is an opening stream header.
type Header struct {
	// Name is the resolved name of the header element, normally
	// {http://etherx.jabber.org/streams stream}.
	Name xml.Name
	// DefaultNS is the default namespace declared on the header
	// (jabber:client, jabber:server), or "".
	DefaultNS string
	// To, From, ID, Version and Lang are the header's to, from, id,
	// version and xml:lang attributes.
	To, From, ID, Version, Lang string
}

// A Decoder reads a stream header and then top-level elements from an XMPP
// stream, enforcing RFC 6120 §11 and the configured Limits. It reads ahead
// at most 4096 bytes; while it waits for the next element with nothing
// buffered it holds only a 512-byte buffer. Memory for one element is
// bounded by Limits.MaxStanzaBytes (times a small factor for the tree). A
// Decoder is not safe for concurrent use.
type Decoder struct {
	lim Limits
	br  byteReader
	x   *xml.Decoder // tokenizer; nil until needed
	err error        // sticky: ErrStreamEnd, *Error or a read error

	started    bool     // a header has been read on the current source
	selfClosed bool     // the header was <stream:stream/>
	hdrRaw     xml.Name // the header's name as written (prefix, local)

	ns    []binding // namespace bindings in scope, innermost last
	stack []frame   // open elements of the element being read
	text  []byte    // character data not yet added to the open element
}

type binding struct{ prefix, uri string }

type frame struct {
	el   *Element
	raw  xml.Name // name as written, for matching the end tag
	mark int      // len(ns) before the element's own declarations
}

// NewDecoder returns a Decoder reading from r with the given limits (zero
// fields take the defaults).
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{lim: lim.withDefaults()}
	d.br.reset(r)
	return d
}

// Reset makes d read a new stream from r, discarding anything buffered and
// any error. Use it after STARTTLS, with the TLS connection; check Buffered
// first, since bytes a peer sent after <starttls/> must not be carried
// over. The next call must be ReadHeader.
func (d *Decoder) Reset(r io.Reader) {
	d.br.reset(r)
	d.x, d.err, d.started, d.selfClosed = nil, nil, false, false
	d.ns, d.stack, d.text = nil, nil, nil
}

// Buffered returns how many bytes have been read from the underlying reader
// but not yet decoded (whitespace included). Between elements the decoder
// holds no other undecoded input.
func (d *Decoder) Buffered() int { return d.br.buffered() }

// ReadHeader reads an opening stream header: an optional XML declaration
// (only as the very first bytes), optional whitespace, and the stream's
// start tag. It returns the header even when its namespace is wrong; the
// caller checks Name.Space and DefaultNS and reports invalid-namespace.
// A start tag whose local name is not "stream" is a bad-format error; text
// before it is not-well-formed; comments, processing instructions and
// DOCTYPE are restricted-xml.
//
// ReadHeader may be called again on the same stream to read the header of
// a restarted stream (RFC 6120 §4.3.3, after SASL success); whitespace and
// an XML declaration may then precede the new header. Bytes the peer has
// already sent are kept.
//
// An error from the underlying reader is returned unchanged (io.EOF when the
// connection closed).
func (d *Decoder) ReadHeader() (Header, error) {
	if d.err != nil {
		return Header{}, d.err
	}
	// A read error before the header's first byte leaves d as it was.
	restart := d.started
	c, err := d.br.peek()
	if err != nil {
		return Header{}, err
	}
	declOK := true
	if isSpace(c) {
		declOK = restart
		if c, err = d.br.skipSpace(); err != nil {
			return Header{}, err
		}
	}
	d.started, d.selfClosed = false, false
	d.ns, d.stack = d.ns[:0], d.stack[:0]
	d.x = newTokenizer(&d.br)
	d.br.setBudget(d.lim.MaxStanzaBytes)
	t, err := d.prolog(c, declOK, "stream header")
	if err != nil {
		return Header{}, d.fail(err)
	}
	name, attrs, err := d.resolve(t, 0)
	if err != nil {
		return Header{}, d.fail(err)
	}
	h := Header{Name: name}
	for _, b := range d.ns {
		if b.prefix == "" {
			h.DefaultNS = b.uri
		}
	}
	for _, a := range attrs {
		switch a.Name {
		case xml.Name{Local: "to"}:
			h.To = a.Value
		case xml.Name{Local: "from"}:
			h.From = a.Value
		case xml.Name{Local: "id"}:
			h.ID = a.Value
		case xml.Name{Local: "version"}:
			h.Version = a.Value
		case xml.Name{Space: "xml", Local: "lang"}:
			h.Lang = a.Value
		}
	}
	if name.Local != "stream" {
		return h, d.fail(newError(CondBadFormat, "expected a stream header, got <"+t.Name.Local+">"))
	}
	d.hdrRaw = t.Name
	d.selfClosed = d.br.last == [2]byte{'/', '>'}
	d.started = true
	d.br.release()
	return h, nil
}

// ReadElement reads the next complete top-level element (a child of the
// stream element), skipping whitespace between elements.
//
// It returns ErrStreamEnd when the peer sent the stream's end tag, and an
// *Error for violations of RFC 6120 §11 or the Limits. After either, the
// Decoder is unusable and keeps returning the same error. When the
// underlying reader fails, ReadElement returns its error unchanged (io.EOF
// when the connection closed, even in the middle of an element); if that
// happens before the first byte of an element (for example a read deadline
// expiring while the peer is idle), the Decoder stays usable and
// ReadElement may be called again.
func (d *Decoder) ReadElement() (*Element, error) {
	if d.err != nil {
		return nil, d.err
	}
	if !d.started {
		return nil, errors.New("xmlstream: ReadElement called before ReadHeader")
	}
	if d.selfClosed {
		return nil, d.fail(ErrStreamEnd)
	}
	c, err := d.br.skipSpace()
	if err != nil {
		return nil, err
	}
	if c != '<' {
		if c < 0x20 {
			return nil, d.fail(newError(CondNotWellFormed, "character not allowed: "+strconv.QuoteRune(rune(c))))
		}
		return nil, d.fail(newError(CondBadFormat, "text at stream level"))
	}
	if d.x == nil {
		d.x = newTokenizer(&d.br)
	}
	d.br.setBudget(d.lim.MaxStanzaBytes)
	tok, err := d.x.RawToken()
	if err != nil {
		return nil, d.fail(d.mapErr(err))
	}
	switch t := tok.(type) {
	case xml.StartElement:
		el, err := d.readTree(t)
		if err != nil {
			return nil, d.fail(err)
		}
		d.idle()
		return el, nil
	case xml.EndElement:
		if t.Name == d.hdrRaw {
			return nil, d.fail(ErrStreamEnd)
		}
		return nil, d.fail(newError(CondNotWellFormed, "unexpected end tag </"+rawName(t.Name)+">"))
	case xml.CharData:
		return nil, d.fail(newError(CondBadFormat, "CDATA at stream level"))
	default:
		return nil, d.fail(restricted(tok))
	}
}

// ParseElement parses one complete element from data, as sent in one
// WebSocket message (RFC 7395). The same restrictions and limits apply as
// for a stream; leading and trailing whitespace and a leading XML
// declaration are allowed, anything else after the element is
// not-well-formed. data longer than lim.MaxStanzaBytes is a
// policy-violation. No namespace is in scope at the start: the element must
// declare the namespaces it uses. The result does not refer to data.
func ParseElement(data []byte, lim Limits) (*Element, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxStanzaBytes {
		return nil, newError(CondPolicyViolation, "element larger than "+strconv.Itoa(lim.MaxStanzaBytes)+" bytes")
	}
	d := &Decoder{lim: lim}
	d.br.setBytes(data)
	d.br.setBudget(-1)
	d.x = newTokenizer(&d.br)
	c, err := d.br.peek()
	if err != nil {
		return nil, newError(CondNotWellFormed, "no element")
	}
	declOK := true
	if isSpace(c) {
		declOK = false
		if c, err = d.br.skipSpace(); err != nil {
			return nil, newError(CondNotWellFormed, "no element")
		}
	}
	t, err := d.prolog(c, declOK, "element")
	if err != nil {
		return nil, err
	}
	el, err := d.readTree(t)
	if err != nil {
		return nil, err
	}
	if _, err := d.br.skipSpace(); err != io.EOF {
		return nil, newError(CondNotWellFormed, "data after the element")
	}
	return el, nil
}

// prolog reads an optional XML declaration (if declOK), whitespace, and
// the start tag of the first element. c is the next byte, not consumed.
func (d *Decoder) prolog(c byte, declOK bool, what string) (xml.StartElement, error) {
	for {
		if c != '<' {
			return xml.StartElement{}, newError(CondNotWellFormed, "text before the "+what)
		}
		tok, err := d.x.RawToken()
		if err != nil {
			return xml.StartElement{}, d.mapErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.ProcInst:
			if t.Target != "xml" || !declOK {
				return xml.StartElement{}, restricted(tok)
			}
			if err := checkDecl(t.Inst); err != nil {
				return xml.StartElement{}, err
			}
			declOK = false
			if c, err = d.br.skipSpace(); err != nil {
				return xml.StartElement{}, d.srcErr(err)
			}
		case xml.EndElement:
			return xml.StartElement{}, newError(CondNotWellFormed, "unexpected end tag </"+rawName(t.Name)+">")
		case xml.CharData:
			return xml.StartElement{}, newError(CondNotWellFormed, "text before the "+what)
		default:
			return xml.StartElement{}, restricted(tok)
		}
	}
}

// readTree reads the rest of the element whose start tag is t.
func (d *Decoder) readTree(t xml.StartElement) (*Element, error) {
	root, err := d.open(t)
	if err != nil {
		return nil, err
	}
	for len(d.stack) > 0 {
		tok, err := d.x.RawToken()
		if err != nil {
			return nil, d.mapErr(err)
		}
		top := &d.stack[len(d.stack)-1]
		switch t := tok.(type) {
		case xml.CharData:
			d.text = append(d.text, t...)
		case xml.StartElement:
			if len(d.stack) >= d.lim.MaxDepth {
				return nil, newError(CondPolicyViolation, "elements nested deeper than "+strconv.Itoa(d.lim.MaxDepth))
			}
			parent := top.el
			d.flush(parent)
			el, err := d.open(t)
			if err != nil {
				return nil, err
			}
			parent.Children = append(parent.Children, el)
		case xml.EndElement:
			if t.Name != top.raw {
				return nil, newError(CondNotWellFormed, "element <"+rawName(top.raw)+"> closed by </"+rawName(t.Name)+">")
			}
			d.flush(top.el)
			d.ns = d.ns[:top.mark]
			*top = frame{}
			d.stack = d.stack[:len(d.stack)-1]
		default:
			return nil, restricted(tok)
		}
	}
	return root, nil
}

// open resolves a start tag and pushes it as the innermost open element.
func (d *Decoder) open(t xml.StartElement) (*Element, error) {
	mark := len(d.ns)
	name, attrs, err := d.resolve(t, mark)
	if err != nil {
		return nil, err
	}
	el := &Element{Name: name}
	if len(attrs) > 0 {
		el.Attrs = attrs
	}
	d.stack = append(d.stack, frame{el: el, raw: t.Name, mark: mark})
	return el, nil
}

// flush adds pending character data to el.
func (d *Decoder) flush(el *Element) {
	if len(d.text) > 0 {
		el.Children = append(el.Children, Text(d.text))
		d.text = d.text[:0]
	}
}

// resolve pushes the namespace declarations of t onto d.ns (mark is
// len(d.ns) before) and returns the element's resolved name and its other
// attributes, resolved, reusing t.Attr's storage.
func (d *Decoder) resolve(t xml.StartElement, mark int) (xml.Name, []xml.Attr, error) {
	attrs := t.Attr
	n := 0
	for _, a := range t.Attr {
		var prefix string
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			prefix = ""
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
		default:
			attrs[n] = a
			n++
			continue
		}
		if err := checkBinding(prefix, a.Value); err != nil {
			return xml.Name{}, nil, err
		}
		for _, b := range d.ns[mark:] {
			if b.prefix == prefix {
				return xml.Name{}, nil, newError(CondNotWellFormed, "duplicate attribute "+rawName(a.Name))
			}
		}
		d.ns = append(d.ns, binding{prefix, a.Value})
	}
	attrs = attrs[:n]

	name := t.Name
	if !validLocal(name.Local) {
		return xml.Name{}, nil, newError(CondNotWellFormed, "invalid element name "+strconv.Quote(rawName(name)))
	}
	if name.Space == "xml" || name.Space == "xmlns" {
		return xml.Name{}, nil, newError(CondNotWellFormed, "reserved prefix on element <"+rawName(name)+">")
	}
	uri, ok := d.lookup(name.Space)
	if !ok {
		return xml.Name{}, nil, newError(CondNotWellFormed, "undeclared namespace prefix "+strconv.Quote(name.Space))
	}
	name.Space = uri

	for i := range attrs {
		a := &attrs[i]
		if !validLocal(a.Name.Local) {
			return xml.Name{}, nil, newError(CondNotWellFormed, "invalid attribute name "+strconv.Quote(rawName(a.Name)))
		}
		switch a.Name.Space {
		case "", "xml":
		default:
			uri, ok := d.lookup(a.Name.Space)
			if !ok {
				return xml.Name{}, nil, newError(CondNotWellFormed, "undeclared namespace prefix "+strconv.Quote(a.Name.Space))
			}
			if uri == "xml" {
				// Would be indistinguishable from the xml prefix.
				return xml.Name{}, nil, newError(CondNotWellFormed, "attribute in namespace \"xml\"")
			}
			a.Name.Space = uri
		}
	}
	if hasDuplicate(attrs) {
		return xml.Name{}, nil, newError(CondNotWellFormed, "duplicate attribute")
	}
	return name, attrs, nil
}

// lookup returns the namespace bound to prefix ("" is the default
// namespace, empty when undeclared).
func (d *Decoder) lookup(prefix string) (string, bool) {
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].prefix == prefix {
			return d.ns[i].uri, true
		}
	}
	return "", prefix == ""
}

// checkBinding applies the constraints of Namespaces in XML 1.0 §3 to a
// declaration of prefix ("" for the default namespace).
func checkBinding(prefix, uri string) error {
	switch {
	case prefix == "xmlns":
		return newError(CondNotWellFormed, "the xmlns prefix cannot be declared")
	case prefix == "xml":
		if uri != NSXML {
			return newError(CondNotWellFormed, "the xml prefix cannot be rebound")
		}
		// Allowed but redundant: the xml prefix is always bound.
	case uri == NSXML || uri == NSXMLNS:
		return newError(CondNotWellFormed, "reserved namespace "+strconv.Quote(uri)+" cannot be declared")
	case prefix != "" && uri == "":
		return newError(CondNotWellFormed, "prefix "+strconv.Quote(prefix)+" bound to an empty namespace")
	case prefix != "" && !validLocal(prefix):
		return newError(CondNotWellFormed, "invalid prefix "+strconv.Quote(prefix))
	}
	return nil
}

// validLocal reports whether a prefix or local name from the tokenizer is
// a valid NCName (Namespaces in XML 1.0 §3). The tokenizer has checked that
// the whole qualified name is an XML name; what remains is that the part
// has no colon and starts with a name start character.
func validLocal(s string) bool {
	if s == "" || strings.IndexByte(s, ':') >= 0 {
		return false
	}
	c := s[0]
	if c < utf8.RuneSelf {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
	}
	r, _ := utf8.DecodeRuneInString(s)
	return isNameStart(r)
}

// nameStart caches, for each rune of the Basic Multilingual Plane, whether
// the tokenizer accepts it as the first character of a name. Local names
// must start with such a character so that they can be written unprefixed.
var nameStart struct {
	known, ok [0x10000 / 64]atomic.Uint64
}

func isNameStart(r rune) bool {
	if r < 0 || r > 0xFFFF {
		return false // the tokenizer accepts no name characters outside the BMP
	}
	i, bit := r/64, uint64(1)<<(r%64)
	if nameStart.known[i].Load()&bit != 0 {
		return nameStart.ok[i].Load()&bit != 0
	}
	_, err := xml.NewDecoder(strings.NewReader("<" + string(r) + "/>")).RawToken()
	if err == nil {
		nameStart.ok[i].Or(bit)
	}
	nameStart.known[i].Or(bit)
	return err == nil
}

func hasDuplicate(attrs []xml.Attr) bool {
	if len(attrs) <= 8 {
		for i := 1; i < len(attrs); i++ {
			for j := 0; j < i; j++ {
				if attrs[i].Name == attrs[j].Name {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[xml.Name]struct{}, len(attrs))
	for _, a := range attrs {
		if _, ok := seen[a.Name]; ok {
			return true
		}
		seen[a.Name] = struct{}{}
	}
	return false
}

// idle trims what the decoder keeps between elements.
func (d *Decoder) idle() {
	if d.br.total > 16384 {
		d.x = nil // drop the tokenizer's grown buffers
	}
	if cap(d.text) > 4096 {
		d.text = nil
	}
	if cap(d.ns) > 64 {
		d.ns = append([]binding(nil), d.ns...)
	}
	d.br.release()
}

// fail makes err sticky and frees what the decoder holds.
func (d *Decoder) fail(err error) error {
	d.err = err
	d.x, d.stack, d.text = nil, nil, nil
	d.br.r = d.br.w
	d.br.release()
	return err
}

// mapErr turns a tokenizer error into the error ReadElement reports.
func (d *Decoder) mapErr(err error) error {
	if d.br.fail != nil {
		return d.srcErr(d.br.fail)
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if ref, ok := strings.CutPrefix(se.Msg, "invalid character entity &"); ok &&
			!strings.HasPrefix(ref, "#") && !strings.HasSuffix(ref, "(no semicolon)") {
			return newError(CondRestrictedXML, "entity reference &"+ref)
		}
		return newError(CondNotWellFormed, se.Msg)
	}
	return newError(CondNotWellFormed, strings.TrimPrefix(err.Error(), "xml: "))
}

// srcErr maps an error of the byte reader.
func (d *Decoder) srcErr(err error) error {
	switch {
	case err == errBudget:
		return newError(CondPolicyViolation, "larger than "+strconv.Itoa(d.lim.MaxStanzaBytes)+" bytes")
	case err == io.EOF && d.br.src == nil:
		return newError(CondNotWellFormed, "unexpected end of input")
	}
	return err
}

func restricted(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.Comment:
		return newError(CondRestrictedXML, "comment")
	case xml.ProcInst:
		return newError(CondRestrictedXML, "processing instruction <?"+t.Target+"?>")
	case xml.Directive:
		return newError(CondRestrictedXML, "DTD or other <! declaration")
	}
	return newError(CondNotWellFormed, "unexpected token")
}

func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func newTokenizer(br *byteReader) *xml.Decoder {
	x := xml.NewDecoder(br)
	x.Strict = true
	x.Entity = nil
	x.CharsetReader = nil
	return x
}

// checkDecl checks the pseudo-attributes of an XML declaration
// (XML 1.0 §2.8): version 1.0, optionally encoding UTF-8 and standalone.
func checkDecl(inst []byte) error {
	s := string(inst)
	want := [...]string{"version", "encoding", "standalone"}
	next := 0
	for i := 0; ; i++ {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			if i == 0 {
				return newError(CondNotWellFormed, "XML declaration without version")
			}
			return nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return newError(CondNotWellFormed, "malformed XML declaration")
		}
		name := strings.TrimRight(s[:eq], " \t\r\n")
		s = strings.TrimLeft(s[eq+1:], " \t\r\n")
		if s == "" || (s[0] != '\'' && s[0] != '"') {
			return newError(CondNotWellFormed, "malformed XML declaration")
		}
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return newError(CondNotWellFormed, "malformed XML declaration")
		}
		value := s[1 : 1+end]
		s = s[2+end:]
		if s != "" && !isSpace(s[0]) {
			return newError(CondNotWellFormed, "malformed XML declaration")
		}
		p := -1
		for j := next; j < len(want); j++ {
			if want[j] == name {
				p = j
				break
			}
		}
		if p < 0 || (i == 0 && name != "version") {
			return newError(CondNotWellFormed, "malformed XML declaration")
		}
		next = p + 1
		switch name {
		case "version":
			if value != "1.0" {
				return newError(CondNotWellFormed, "XML version "+strconv.Quote(value)+" not supported")
			}
		case "encoding":
			if !strings.EqualFold(value, "UTF-8") {
				return newError(CondNotWellFormed, "encoding "+strconv.Quote(value)+" not supported")
			}
		case "standalone":
			if value != "yes" && value != "no" {
				return newError(CondNotWellFormed, "malformed XML declaration")
			}
		}
	}
}
