package xmlstream

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
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
	// CondUnsupportedEncoding is for a stream in an encoding other than
	// UTF-8 (RFC 6120 §11.6).
	CondUnsupportedEncoding = "unsupported-encoding"
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
// bounded by Limits.MaxStanzaBytes times the tree's overhead: about 30
// for an element made of tiny empty elements, far less for text. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	lim Limits
	br  byteReader
	tok tokenizer
	err error // sticky: ErrStreamEnd, *Error or a read error

	started    bool   // a header has been read on the current source
	selfClosed bool   // the header was <stream:stream/>
	hdrPrefix  string // the header's name as written
	hdrLocal   string

	ns    []binding // namespace bindings in scope, innermost last
	stack []frame   // open elements of the element being read

	// The element being read, as a flat tree (see tree.go), in scratch
	// space borrowed from sc while an element is being read.
	sc               *scratch
	pels             []pel
	pattrs           []pattr
	pending          []pnode // children of the open elements, innermost last
	kids             []pnode // children of the closed elements, by parent
	textOff, textEnd int     // character data not yet added (textOff < 0: none)
}

// NewDecoder returns a Decoder reading from r with the given limits (zero
// fields take the defaults).
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{lim: lim.withDefaults()}
	d.tok.br = &d.br
	d.br.reset(r)
	return d
}

// Reset makes d read a new stream from r, discarding anything buffered and
// any error. Use it after STARTTLS, with the TLS connection; check Buffered
// first, since bytes a peer sent after <starttls/> must not be carried
// over. The next call must be ReadHeader.
func (d *Decoder) Reset(r io.Reader) {
	d.br.reset(r)
	d.err, d.started, d.selfClosed = nil, false, false
	d.ns = nil
	d.giveBack()
}

// SetMaxStanzaBytes changes Limits.MaxStanzaBytes for the elements read
// from now on, e.g. once the peer has authenticated; 0 or less means the
// default.
func (d *Decoder) SetMaxStanzaBytes(n int) {
	d.lim.MaxStanzaBytes = n
	d.lim = d.lim.withDefaults()
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
	d.br.setBudget(d.lim.MaxStanzaBytes)
	d.startTree()
	if err := d.prolog(c, declOK, "stream header"); err != nil {
		return Header{}, d.fail(err)
	}
	space, local, prefix, err := d.resolve(0)
	if err != nil {
		return Header{}, d.fail(err)
	}
	// The header's declarations stay in scope after out is reused.
	for i, b := range d.ns {
		d.ns[i] = binding{prefix: strRef(d.string(b.prefix)), uri: strRef(d.string(b.uri))}
	}
	h := Header{Name: xml.Name{Space: d.string(space), Local: d.string(local)}}
	for _, b := range d.ns {
		if b.prefix.s == "" {
			h.DefaultNS = b.uri.s
		}
	}
	for _, a := range d.pattrs {
		var f *string
		switch space, local := d.string(a.space), d.string(a.local); {
		case space == "" && local == "to":
			f = &h.To
		case space == "" && local == "from":
			f = &h.From
		case space == "" && local == "id":
			f = &h.ID
		case space == "" && local == "version":
			f = &h.Version
		case space == "xml" && local == "lang":
			f = &h.Lang
		default:
			continue
		}
		*f = d.string(a.value)
	}
	if h.Name.Local != "stream" {
		return h, d.fail(newError(CondBadFormat, "expected a stream header, got <"+h.Name.Local+">"))
	}
	d.hdrPrefix, d.hdrLocal = d.string(prefix), h.Name.Local
	d.selfClosed = d.tok.empty
	d.started = true
	d.idle()
	return h, nil
}

// WaitElement waits until the next element (or the end of the stream)
// begins: it consumes whitespace and returns once another byte is
// buffered. A read error here, such as a deadline expiring while the peer
// is idle, leaves the Decoder usable.
func (d *Decoder) WaitElement() error {
	if d.err != nil {
		return d.err
	}
	_, err := d.br.skipSpace()
	return err
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
	d.br.setBudget(d.lim.MaxStanzaBytes)
	d.startTree()
	if err := d.tok.read(); err != nil {
		return nil, d.fail(d.mapErr(err))
	}
	switch t := &d.tok; t.kind {
	case tokStart:
		el, err := d.readTree(true)
		if err != nil {
			return nil, d.fail(err)
		}
		d.idle()
		return el, nil
	case tokEnd:
		p, l := t.names[t.name.prefix.off:t.name.prefix.end], t.names[t.name.local.off:t.name.local.end]
		if string(p) == d.hdrPrefix && string(l) == d.hdrLocal {
			return nil, d.fail(ErrStreamEnd)
		}
		return nil, d.fail(newError(CondNotWellFormed, "unexpected end tag </"+rawName(p, l)+">"))
	case tokText:
		return nil, d.fail(newError(CondBadFormat, "CDATA at stream level"))
	default:
		return nil, d.fail(d.restricted())
	}
}

// ParseElement parses one complete element from data, as sent in one
// WebSocket message (RFC 7395). The same restrictions and limits apply as
// for a stream; leading and trailing whitespace and a leading XML
// declaration are allowed, anything else after the element is
// not-well-formed. data longer than lim.MaxStanzaBytes is a
// policy-violation. No namespace is in scope at the start: the element must
// declare the namespaces it uses. The result does not refer to data.
// maxStoredDepth bounds the nesting ParseStored accepts. It only has to
// exceed any stream's depth limit.
const maxStoredDepth = 1024

// ParseStored parses an element this server serialised itself, such as a
// stanza read back from the database: it passed a stream's limits when it
// arrived, so only a generous bound on nesting applies.
func ParseStored(data []byte) (*Element, error) {
	return ParseElement(data, Limits{MaxStanzaBytes: len(data), MaxDepth: maxStoredDepth})
}

func ParseElement(data []byte, lim Limits) (*Element, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxStanzaBytes {
		return nil, newError(CondPolicyViolation, "element larger than "+strconv.Itoa(lim.MaxStanzaBytes)+" bytes")
	}
	d := parsers.Get().(*Decoder)
	defer d.release()
	d.lim = lim
	d.br.setBytes(data)
	d.br.setBudget(-1)
	d.startTree()
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
	if err := d.prolog(c, declOK, "element"); err != nil {
		return nil, err
	}
	el, err := d.readTree(false)
	if err != nil {
		return nil, err
	}
	if _, err := d.br.skipSpace(); err != io.EOF {
		return nil, newError(CondNotWellFormed, "data after the element")
	}
	return el, nil
}

// parsers holds Decoders for ParseElement, with their scratch space.
var parsers = sync.Pool{New: func() any {
	d := new(Decoder)
	d.tok.br = &d.br
	return d
}}

// release returns a Decoder used by ParseElement to parsers.
func (d *Decoder) release() {
	d.br.setBytes(nil)
	d.ns = d.ns[:0]
	d.giveBack()
	parsers.Put(d)
}

// prolog reads an optional XML declaration (if declOK), whitespace, and
// the start tag of the first element. c is the next byte, not consumed.
func (d *Decoder) prolog(c byte, declOK bool, what string) error {
	for {
		if c == 0 || c == 0xFE || c == 0xFF {
			// A UTF-16 or UTF-32 byte order mark, or the NUL byte of
			// "<" in UTF-16BE or UTF-32BE.
			return newError(CondUnsupportedEncoding, "the stream is not UTF-8")
		}
		if c != '<' {
			return newError(CondNotWellFormed, "text before the "+what)
		}
		if err := d.tok.read(); err != nil {
			if d.br.r < d.br.w && d.br.buf[d.br.r] == 0 {
				// "<" then NUL: UTF-16LE without a byte order mark.
				return newError(CondUnsupportedEncoding, "the stream is not UTF-8")
			}
			return d.mapErr(err)
		}
		switch t := &d.tok; t.kind {
		case tokStart:
			return nil
		case tokPI:
			if t.target != "xml" || !declOK {
				return d.restricted()
			}
			if err := checkDecl(t.names[t.text.off:t.text.end]); err != nil {
				return err
			}
			declOK = false
			var err error
			if c, err = d.br.skipSpace(); err != nil {
				return d.srcErr(err)
			}
		case tokEnd:
			return newError(CondNotWellFormed, "unexpected end tag </"+rawName(t.names[t.name.prefix.off:t.name.prefix.end], t.names[t.name.local.off:t.name.local.end])+">")
		case tokText:
			return newError(CondNotWellFormed, "text before the "+what)
		default:
			return d.restricted()
		}
	}
}

// readTree reads the rest of the element whose start tag was just read.
// In a stream (inStream), a stream header is not such an element.
func (d *Decoder) readTree(inStream bool) (*Element, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	if top := d.pels[0]; inStream && d.refIs(top.space, []byte(NSStream)) && d.refIs(top.local, []byte("stream")) {
		// Read as an element, it would hold the rest of the stream:
		// every stanza the peer sends after it, unanswered.
		return nil, newError(CondBadFormat, "a stream header inside the stream")
	}
	for len(d.stack) > 0 {
		if err := d.tok.read(); err != nil {
			return nil, d.mapErr(err)
		}
		switch d.tok.kind {
		case tokText:
			d.addText()
		case tokStart:
			if len(d.stack) >= d.lim.MaxDepth {
				return nil, newError(CondPolicyViolation, "elements nested deeper than "+strconv.Itoa(d.lim.MaxDepth))
			}
			d.flushText()
			if err := d.open(); err != nil {
				return nil, err
			}
		case tokEnd:
			if !d.matchesTop() {
				t := &d.tok
				return nil, newError(CondNotWellFormed, "element <"+d.topName()+"> closed by </"+rawName(t.names[t.name.prefix.off:t.name.prefix.end], t.names[t.name.local.off:t.name.local.end])+">")
			}
			d.flushText()
			d.close()
		default:
			return nil, d.restricted()
		}
	}
	return d.build(), nil
}

// idle gives back what the decoder does not need between elements.
func (d *Decoder) idle() {
	d.giveBack()
	if cap(d.ns) > 64 {
		d.ns = append([]binding(nil), d.ns...)
	}
	d.br.release()
}

// fail makes err sticky and frees what the decoder holds.
func (d *Decoder) fail(err error) error {
	d.err = err
	d.giveBack()
	d.br.r = d.br.w
	d.br.release()
	return err
}

// mapErr turns a tokenizer error into the error ReadElement reports.
func (d *Decoder) mapErr(err error) error {
	if _, ok := err.(*Error); ok {
		return err
	}
	return d.srcErr(err)
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

// restricted returns the error for the comment, processing instruction or
// declaration just read.
func (d *Decoder) restricted() error {
	switch d.tok.kind {
	case tokComment:
		return newError(CondRestrictedXML, "comment")
	case tokPI:
		return newError(CondRestrictedXML, "processing instruction <?"+d.tok.target+"?>")
	case tokDirective:
		return newError(CondRestrictedXML, "DTD or other <! declaration")
	}
	return newError(CondNotWellFormed, "unexpected token")
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

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
				return newError(CondUnsupportedEncoding, "encoding "+strconv.Quote(value)+" not supported")
			}
		case "standalone":
			if value != "yes" && value != "no" {
				return newError(CondNotWellFormed, "malformed XML declaration")
			}
		}
	}
}
