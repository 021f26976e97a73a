package xmlstream

// The decoder as it was before the tokenizer of token.go: the same rules
// on top of encoding/xml's RawToken. FuzzEquivalence compares the two.

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// refReader is the io.ByteReader the reference decoder hands encoding/xml:
// a byteReader that counts the bytes handed out against its budget and
// remembers the last two.
type refReader struct {
	byteReader
	last  [2]byte // last two bytes handed out by ReadByte
	fail  error   // last error ReadByte returned
	total int64   // bytes handed out by ReadByte since setBudget
}

func (br *refReader) setBudget(n int) {
	if n < 0 {
		n = math.MaxInt
	}
	br.left, br.fail, br.total = n, nil, 0
}

func (br *refReader) ReadByte() (byte, error) {
	if br.left <= 0 {
		br.fail = errBudget
		return 0, errBudget
	}
	if br.r == br.w {
		if err := br.fill(false); err != nil {
			br.fail = err
			return 0, err
		}
	}
	c := br.buf[br.r]
	br.r++
	br.left--
	br.total++
	br.last[0], br.last[1] = br.last[1], c
	return c, nil
}

// Read is never called: encoding/xml uses ReadByte when it can.
func (br *refReader) Read(p []byte) (int, error) {
	panic("refReader.Read called")
}

// A refDecoder reads a stream header and then top-level elements from an XMPP
// stream, enforcing RFC 6120 §11 and the configured Limits. It reads ahead
// at most 4096 bytes; while it waits for the next element with nothing
// buffered it holds only a 512-byte buffer. Memory for one element is
// bounded by Limits.MaxStanzaBytes (times a small factor for the tree). A
// refDecoder is not safe for concurrent use.
type refDecoder struct {
	lim Limits
	br  refReader
	x   *xml.Decoder // tokenizer; nil until needed
	err error        // sticky: ErrStreamEnd, *Error or a read error

	started    bool     // a header has been read on the current source
	selfClosed bool     // the header was <stream:stream/>
	hdrRaw     xml.Name // the header's name as written (prefix, local)

	ns    []refBinding // namespace bindings in scope, innermost last
	stack []refFrame   // open elements of the element being read
	text  []byte       // character data not yet added to the open element
}

type refBinding struct{ prefix, uri string }

type refFrame struct {
	el   *Element
	raw  xml.Name // name as written, for matching the end tag
	mark int      // len(ns) before the element's own declarations
}

// newRefDecoder returns a refDecoder reading from r with the given limits (zero
// fields take the defaults).
func newRefDecoder(r io.Reader, lim Limits) *refDecoder {
	d := &refDecoder{lim: lim.withDefaults()}
	d.br.reset(r)
	return d
}

// Reset makes d read a new stream from r, discarding anything buffered and
// any error. Use it after STARTTLS, with the TLS connection; check Buffered
// first, since bytes a peer sent after <starttls/> must not be carried
// over. The next call must be ReadHeader.
func (d *refDecoder) Reset(r io.Reader) {
	d.br.reset(r)
	d.x, d.err, d.started, d.selfClosed = nil, nil, false, false
	d.ns, d.stack, d.text = nil, nil, nil
}

// Buffered returns how many bytes have been read from the underlying reader
// but not yet decoded (whitespace included). Between elements the decoder
// holds no other undecoded input.
func (d *refDecoder) Buffered() int { return d.br.buffered() }

// ReadHeader reads an opening stream header: an optional XML declaration
// (only as the very first bytes), optional whitespace, and the stream's
// start tag. It returns the header even when its namespace is wrong; the
// caller checks Name.Space and DefaultNS and reports invalid-namespace.
// A start tag whose local name is not "stream" is a bad-format error; text
// before it is not-well-formed; comments, processing instructions and
// DOCTYPE are refRestricted-xml.
//
// ReadHeader may be called again on the same stream to read the header of
// a restarted stream (RFC 6120 §4.3.3, after SASL success); whitespace and
// an XML declaration may then precede the new header. Bytes the peer has
// already sent are kept.
//
// An error from the underlying reader is returned unchanged (io.EOF when the
// connection closed).
func (d *refDecoder) ReadHeader() (Header, error) {
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
	d.x = refNewTokenizer(&d.br)
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
// refDecoder is unusable and keeps returning the same error. When the
// underlying reader fails, ReadElement returns its error unchanged (io.EOF
// when the connection closed, even in the middle of an element); if that
// happens before the first byte of an element (for example a read deadline
// expiring while the peer is idle), the refDecoder stays usable and
// ReadElement may be called again.
func (d *refDecoder) ReadElement() (*Element, error) {
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
		d.x = refNewTokenizer(&d.br)
	}
	d.br.setBudget(d.lim.MaxStanzaBytes)
	tok, err := d.x.RawToken()
	if err != nil {
		return nil, d.fail(d.mapErr(err))
	}
	switch t := tok.(type) {
	case xml.StartElement:
		el, err := d.readTree(t, true)
		if err != nil {
			return nil, d.fail(err)
		}
		d.idle()
		return el, nil
	case xml.EndElement:
		if t.Name == d.hdrRaw {
			return nil, d.fail(ErrStreamEnd)
		}
		return nil, d.fail(newError(CondNotWellFormed, "unexpected end tag </"+refRawName(t.Name)+">"))
	case xml.CharData:
		return nil, d.fail(newError(CondBadFormat, "CDATA at stream level"))
	default:
		return nil, d.fail(refRestricted(tok))
	}
}

// refParseElement parses one complete element from data, as sent in one
// WebSocket message (RFC 7395). The same restrictions and limits apply as
// for a stream; leading and trailing whitespace and a leading XML
// declaration are allowed, anything else after the element is
// not-well-formed. data longer than lim.MaxStanzaBytes is a
// policy-violation. No namespace is in scope at the start: the element must
// declare the namespaces it uses. The result does not refer to data.
func refParseElement(data []byte, lim Limits) (*Element, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxStanzaBytes {
		return nil, newError(CondPolicyViolation, "element larger than "+strconv.Itoa(lim.MaxStanzaBytes)+" bytes")
	}
	d := &refDecoder{lim: lim}
	d.br.setBytes(data)
	d.br.setBudget(-1)
	d.x = refNewTokenizer(&d.br)
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
	el, err := d.readTree(t, false)
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
func (d *refDecoder) prolog(c byte, declOK bool, what string) (xml.StartElement, error) {
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
				return xml.StartElement{}, refRestricted(tok)
			}
			if err := checkDecl(t.Inst); err != nil {
				return xml.StartElement{}, err
			}
			declOK = false
			if c, err = d.br.skipSpace(); err != nil {
				return xml.StartElement{}, d.srcErr(err)
			}
		case xml.EndElement:
			return xml.StartElement{}, newError(CondNotWellFormed, "unexpected end tag </"+refRawName(t.Name)+">")
		case xml.CharData:
			return xml.StartElement{}, newError(CondNotWellFormed, "text before the "+what)
		default:
			return xml.StartElement{}, refRestricted(tok)
		}
	}
}

// readTree reads the rest of the element whose start tag is t. In a
// stream (inStream), a stream header is not such an element.
func (d *refDecoder) readTree(t xml.StartElement, inStream bool) (*Element, error) {
	root, err := d.open(t)
	if err != nil {
		return nil, err
	}
	if inStream && root.Name.Space == NSStream && root.Name.Local == "stream" {
		return nil, newError(CondBadFormat, "a stream header inside the stream")
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
				return nil, newError(CondNotWellFormed, "element <"+refRawName(top.raw)+"> closed by </"+refRawName(t.Name)+">")
			}
			d.flush(top.el)
			d.ns = d.ns[:top.mark]
			*top = refFrame{}
			d.stack = d.stack[:len(d.stack)-1]
		default:
			return nil, refRestricted(tok)
		}
	}
	return root, nil
}

// open resolves a start tag and pushes it as the innermost open element.
func (d *refDecoder) open(t xml.StartElement) (*Element, error) {
	mark := len(d.ns)
	name, attrs, err := d.resolve(t, mark)
	if err != nil {
		return nil, err
	}
	el := &Element{Name: name}
	if len(attrs) > 0 {
		el.Attrs = attrs
	}
	d.stack = append(d.stack, refFrame{el: el, raw: t.Name, mark: mark})
	return el, nil
}

// flush adds pending character data to el.
func (d *refDecoder) flush(el *Element) {
	if len(d.text) > 0 {
		el.Children = append(el.Children, Text(d.text))
		d.text = d.text[:0]
	}
}

// resolve pushes the namespace declarations of t onto d.ns (mark is
// len(d.ns) before) and returns the element's resolved name and its other
// attributes, resolved, reusing t.Attr's storage.
func (d *refDecoder) resolve(t xml.StartElement, mark int) (xml.Name, []xml.Attr, error) {
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
		if err := refCheckBinding(prefix, a.Value); err != nil {
			return xml.Name{}, nil, err
		}
		for _, b := range d.ns[mark:] {
			if b.prefix == prefix {
				return xml.Name{}, nil, newError(CondNotWellFormed, "duplicate attribute "+refRawName(a.Name))
			}
		}
		d.ns = append(d.ns, refBinding{prefix, a.Value})
	}
	attrs = attrs[:n]

	name := t.Name
	if !refValidLocal(name.Local) {
		return xml.Name{}, nil, newError(CondNotWellFormed, "invalid element name "+strconv.Quote(refRawName(name)))
	}
	if name.Space == "xml" || name.Space == "xmlns" {
		return xml.Name{}, nil, newError(CondNotWellFormed, "reserved prefix on element <"+refRawName(name)+">")
	}
	uri, ok := d.lookup(name.Space)
	if !ok {
		return xml.Name{}, nil, newError(CondNotWellFormed, "undeclared namespace prefix "+strconv.Quote(name.Space))
	}
	name.Space = uri

	for i := range attrs {
		a := &attrs[i]
		if !refValidLocal(a.Name.Local) {
			return xml.Name{}, nil, newError(CondNotWellFormed, "invalid attribute name "+strconv.Quote(refRawName(a.Name)))
		}
		switch a.Name.Space {
		case "", "xml":
		default:
			uri, ok := d.lookup(a.Name.Space)
			if !ok {
				return xml.Name{}, nil, newError(CondNotWellFormed, "undeclared namespace prefix "+strconv.Quote(a.Name.Space))
			}
			if uri == "xml" || uri == "xmlns" {
				// Would be indistinguishable from the xml prefix, or
				// dropped by Append as a namespace declaration.
				return xml.Name{}, nil, newError(CondNotWellFormed, "attribute in namespace "+strconv.Quote(uri))
			}
			a.Name.Space = uri
		}
	}
	if refHasDuplicate(attrs) {
		return xml.Name{}, nil, newError(CondNotWellFormed, "duplicate attribute")
	}
	return name, attrs, nil
}

// lookup returns the namespace bound to prefix ("" is the default
// namespace, empty when undeclared).
func (d *refDecoder) lookup(prefix string) (string, bool) {
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].prefix == prefix {
			return d.ns[i].uri, true
		}
	}
	return "", prefix == ""
}

// refCheckBinding applies the constraints of Namespaces in XML 1.0 §3 to a
// declaration of prefix ("" for the default namespace).
func refCheckBinding(prefix, uri string) error {
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
	case prefix != "" && !refValidLocal(prefix):
		return newError(CondNotWellFormed, "invalid prefix "+strconv.Quote(prefix))
	}
	return nil
}

// refValidLocal reports whether a prefix or local name from the tokenizer is
// a valid NCName (Namespaces in XML 1.0 §3). The tokenizer has checked that
// the whole qualified name is an XML name; what remains is that the part
// has no colon and starts with a name start character.
func refValidLocal(s string) bool {
	if s == "" || strings.IndexByte(s, ':') >= 0 {
		return false
	}
	c := s[0]
	if c < utf8.RuneSelf {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
	}
	r, _ := utf8.DecodeRuneInString(s)
	return refIsNameStart(r)
}

// refNameStart caches, for each rune of the Basic Multilingual Plane, whether
// the tokenizer accepts it as the first character of a name. Local names
// must start with such a character so that they can be written unprefixed.
var refNameStart struct {
	known, ok [0x10000 / 64]atomic.Uint64
}

func refIsNameStart(r rune) bool {
	if r < 0 || r > 0xFFFF {
		return false // the tokenizer accepts no name characters outside the BMP
	}
	i, bit := r/64, uint64(1)<<(r%64)
	if refNameStart.known[i].Load()&bit != 0 {
		return refNameStart.ok[i].Load()&bit != 0
	}
	_, err := xml.NewDecoder(strings.NewReader("<" + string(r) + "/>")).RawToken()
	if err == nil {
		refNameStart.ok[i].Or(bit)
	}
	refNameStart.known[i].Or(bit)
	return err == nil
}

func refHasDuplicate(attrs []xml.Attr) bool {
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
func (d *refDecoder) idle() {
	if d.br.total > 16384 {
		d.x = nil // drop the tokenizer's grown buffers
	}
	if cap(d.text) > 4096 {
		d.text = nil
	}
	if cap(d.ns) > 64 {
		d.ns = append([]refBinding(nil), d.ns...)
	}
	d.br.release()
}

// fail makes err sticky and frees what the decoder holds.
func (d *refDecoder) fail(err error) error {
	d.err = err
	d.x, d.stack, d.text = nil, nil, nil
	d.br.r = d.br.w
	d.br.release()
	return err
}

// mapErr turns a tokenizer error into the error ReadElement reports.
func (d *refDecoder) mapErr(err error) error {
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
func (d *refDecoder) srcErr(err error) error {
	switch {
	case err == errBudget:
		return newError(CondPolicyViolation, "larger than "+strconv.Itoa(d.lim.MaxStanzaBytes)+" bytes")
	case err == io.EOF && d.br.src == nil:
		return newError(CondNotWellFormed, "unexpected end of input")
	}
	return err
}

func refRestricted(tok xml.Token) error {
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

func refRawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func refNewTokenizer(br *refReader) *xml.Decoder {
	x := xml.NewDecoder(br)
	x.Strict = true
	x.Entity = nil
	x.CharsetReader = nil
	return x
}
