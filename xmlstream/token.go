package xmlstream

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// tokKind is the kind of the token a tokenizer last read.
type tokKind uint8

const (
	tokStart     tokKind = iota + 1 // start tag, or empty-element tag if empty
	tokEnd                          // end tag
	tokText                         // character data or a CDATA section
	tokComment                      // <!-- … -->
	tokPI                           // processing instruction, XML declaration included
	tokDirective                    // <!DOCTYPE …>, <!ENTITY …> and other <! declarations
)

// span is a range of bytes in one of the tokenizer's buffers.
type span struct{ off, end int }

// qname is a qualified name in tokenizer.names, split as Namespaces in
// XML 1.0 does for "prefix:local". A name without a colon, or with a colon
// at either end, has no prefix and is all local part.
type qname struct{ prefix, local span }

// rawAttr is an attribute as written: its name in names, its decoded value
// in out.
type rawAttr struct {
	name qname
	val  span
}

// A tokenizer reads the XML of RFC 6120 §11 from a byteReader, one token at
// a time, and never reads a byte beyond the end of the token it returns.
//
// It recognises everything an XMPP stream may contain (tags, character
// data with the predefined entities and character references, CDATA
// sections, the XML declaration) and reads the constructs RFC 6120 §11.1
// forbids (comments, processing instructions, DTDs) only far enough to
// report them. Names, UTF-8 and characters are checked as encoding/xml
// checks them, and errors are found at the same byte, so that the decoder
// reports the same conditions as it did when it used encoding/xml
// (FuzzEquivalence checks this). It differs on purpose in two cases: a
// character reference to a surrogate (&#xD800;) is not-well-formed where
// encoding/xml decoded it as U+FFFD, and a misplaced XML declaration is
// restricted-xml even if its version or encoding is one encoding/xml
// would have rejected first. Like encoding/xml, it accepts attributes not
// separated by white space (<a b='1'c='2'/>).
//
// Looking at a byte counts against the byteReader's budget, whether or not
// the byte is consumed.
type tokenizer struct {
	br *byteReader

	// out receives decoded character data and attribute values. The
	// decoder owns it: the tokenizer only appends.
	out []byte
	// names holds the names of the current tag and, for <?xml …?>, the
	// declaration's content; it is reset for every token.
	names []byte

	kind   tokKind
	empty  bool      // tokStart: written as <name …/>
	name   qname     // tokStart, tokEnd: the element name; tokPI: the target (local)
	attrs  []rawAttr // tokStart
	text   span      // tokText: in out; tokPI with target xml: content in names
	cdata  bool      // tokText: a CDATA section
	target string    // tokPI: the target, if it is "xml"; else a prefix of it for messages
}

func syntaxErr(msg string) *Error { return newError(CondNotWellFormed, msg) }

// peek returns the next byte without consuming it.
func (t *tokenizer) peek() (byte, error) {
	br := t.br
	if br.left <= 0 {
		return 0, errBudget
	}
	if br.r == br.w {
		if err := br.fill(false); err != nil {
			return 0, err
		}
	}
	return br.buf[br.r], nil
}

// skip consumes the byte peek returned.
func (t *tokenizer) skip() {
	t.br.r++
	t.br.left--
}

// next consumes and returns the next byte.
func (t *tokenizer) next() (byte, error) {
	c, err := t.peek()
	if err == nil {
		t.skip()
	}
	return c, err
}

// avail returns the buffered bytes the budget allows looking at.
func (t *tokenizer) avail() []byte {
	br := t.br
	end := br.w
	if br.left < end-br.r {
		end = br.r + br.left
	}
	return br.buf[br.r:end]
}

// advance consumes n bytes returned by avail.
func (t *tokenizer) advance(n int) {
	t.br.r += n
	t.br.left -= n
}

// space skips XML white space.
func (t *tokenizer) space() error {
	for {
		c, err := t.peek()
		if err != nil {
			return err
		}
		if !isSpace(c) {
			return nil
		}
		t.skip()
	}
}

// read reads the next token. It returns an error of the byteReader
// (including errBudget) unchanged and a syntax error as an *Error.
func (t *tokenizer) read() error {
	t.names, t.attrs, t.empty, t.cdata, t.target = t.names[:0], t.attrs[:0], false, false, ""
	c, err := t.peek()
	if err != nil {
		return err
	}
	if c != '<' {
		t.kind = tokText
		return t.readText(0)
	}
	t.skip()
	if c, err = t.peek(); err != nil {
		return err
	}
	switch c {
	case '/':
		t.skip()
		return t.readEndTag()
	case '?':
		t.skip()
		return t.readPI()
	case '!':
		t.skip()
		return t.readBang()
	}
	return t.readStartTag()
}

func (t *tokenizer) readStartTag() error {
	t.kind = tokStart
	var ok bool
	var err error
	if t.name, ok, err = t.readQName(); err != nil || !ok {
		return orSyntax(err, "expected element name after <")
	}
	for {
		if err := t.space(); err != nil {
			return err
		}
		c, err := t.peek()
		if err != nil {
			return err
		}
		switch c {
		case '/':
			t.skip()
			if c, err = t.next(); err != nil {
				return err
			}
			if c != '>' {
				return syntaxErr("expected /> in element")
			}
			t.empty = true
			return nil
		case '>':
			t.skip()
			return nil
		}
		var a rawAttr
		if a.name, ok, err = t.readQName(); err != nil || !ok {
			return orSyntax(err, "expected attribute name in element")
		}
		if err := t.space(); err != nil {
			return err
		}
		if c, err = t.next(); err != nil {
			return err
		}
		if c != '=' {
			return syntaxErr("attribute name without = in element")
		}
		if err := t.space(); err != nil {
			return err
		}
		if c, err = t.next(); err != nil {
			return err
		}
		if c != '\'' && c != '"' {
			return syntaxErr("unquoted or missing attribute value in element")
		}
		if err := t.readText(c); err != nil {
			return err
		}
		a.val = t.text
		t.attrs = append(t.attrs, a)
	}
}

func (t *tokenizer) readEndTag() error {
	t.kind = tokEnd
	var ok bool
	var err error
	if t.name, ok, err = t.readQName(); err != nil || !ok {
		return orSyntax(err, "expected element name after </")
	}
	if err := t.space(); err != nil {
		return err
	}
	c, err := t.next()
	if err != nil {
		return err
	}
	if c != '>' {
		return syntaxErr("invalid characters between </" + string(t.names[t.name.local.off:t.name.local.end]) + " and >")
	}
	return nil
}

// orSyntax returns err, or a syntax error with msg if err is nil.
func orSyntax(err error, msg string) error {
	if err != nil {
		return err
	}
	return syntaxErr(msg)
}

// readName appends the longest run of name bytes to names and returns it,
// with ok false if it is empty. A non-empty run that is not an XML name is
// an error.
func (t *tokenizer) readName() (s span, ok bool, err error) {
	s.off = len(t.names)
	for {
		b := t.avail()
		i := 0
		for i < len(b) && nameByte(b[i]) {
			i++
		}
		t.names = append(t.names, b[:i]...)
		t.advance(i)
		if i == len(b) {
			c, err := t.peek()
			if err != nil {
				return s, false, err
			}
			if nameByte(c) {
				continue
			}
		}
		break
	}
	s.end = len(t.names)
	if s.end == s.off {
		return s, false, nil
	}
	if name := t.names[s.off:s.end]; !isName(name) {
		return s, false, syntaxErr("invalid XML name: " + strconv.Quote(string(name)))
	}
	return s, true, nil
}

// readQName reads a name and splits it into prefix and local part. A name
// with more than one colon is not a qualified name: ok is false.
func (t *tokenizer) readQName() (q qname, ok bool, err error) {
	s, ok, err := t.readName()
	if !ok {
		return q, false, err
	}
	name := t.names[s.off:s.end]
	q.local = s
	switch i := bytes.IndexByte(name, ':'); {
	case i < 0:
	case bytes.IndexByte(name[i+1:], ':') >= 0:
		return q, false, nil
	case i > 0 && i < len(name)-1:
		q.prefix = span{s.off, s.off + i}
		q.local.off = s.off + i + 1
	}
	return q, true, nil
}

// readPI reads a processing instruction after "<?". Only the content of
// one with target "xml" is kept, for the XML declaration.
func (t *tokenizer) readPI() error {
	t.kind = tokPI
	s, ok, err := t.readName()
	if err != nil || !ok {
		return orSyntax(err, "expected target name after <?")
	}
	target := t.names[s.off:s.end]
	t.name = qname{local: s}
	keep := string(target) == "xml"
	if keep {
		t.target = "xml"
	} else {
		t.target = string(target[:min(len(target), 64)])
	}
	if err := t.space(); err != nil {
		return err
	}
	start := len(t.names)
	var b0 byte
	for {
		c, err := t.next()
		if err != nil {
			return err
		}
		if b0 == '?' && c == '>' {
			break
		}
		if keep {
			t.names = append(t.names, c)
		}
		b0 = c
	}
	if keep {
		t.text = span{start, len(t.names) - 1} // without the '?'
	}
	return nil
}

// readBang reads what follows "<!": a comment, a CDATA section or a
// declaration such as <!DOCTYPE …>.
func (t *tokenizer) readBang() error {
	c, err := t.next()
	if err != nil {
		return err
	}
	switch c {
	case '-':
		t.kind = tokComment
		if c, err = t.next(); err != nil {
			return err
		}
		if c != '-' {
			return syntaxErr("invalid sequence <!- not part of <!--")
		}
		var b0, b1 byte
		for {
			if c, err = t.next(); err != nil {
				return err
			}
			if b0 == '-' && b1 == '-' {
				if c != '>' {
					return syntaxErr(`invalid sequence "--" not allowed in comments`)
				}
				return nil
			}
			b0, b1 = b1, c
		}
	case '[':
		t.kind = tokText
		t.cdata = true
		for i := range len("CDATA[") {
			if c, err = t.next(); err != nil {
				return err
			}
			if c != "CDATA["[i] {
				return syntaxErr("invalid <![ sequence")
			}
		}
		return t.readText(0)
	}
	t.kind = tokDirective
	return t.skipDirective()
}

// skipDirective reads the rest of a <! declaration whose first byte after
// "<!" has been read: up to the first '>' outside quotes that closes it,
// counting nested '<' and skipping nested comments.
func (t *tokenizer) skipDirective() error {
	var quote byte
	depth := 0
	for {
		c, err := t.next()
		if err != nil {
			return err
		}
		if quote == 0 && c == '>' && depth == 0 {
			return nil
		}
		for again := true; again; {
			again = false
			switch {
			case c == quote:
				quote = 0
			case quote != 0:
			case c == '\'' || c == '"':
				quote = c
			case c == '>':
				depth--
			case c == '<':
				for i := range len("!--") {
					if c, err = t.next(); err != nil {
						return err
					}
					if c != "!--"[i] {
						depth++
						again = true // look at c as an ordinary byte
						break
					}
				}
				if again {
					break
				}
				var b0, b1 byte
				for {
					if c, err = t.next(); err != nil {
						return err
					}
					if b0 == '-' && b1 == '-' && c == '>' {
						break
					}
					b0, b1 = b1, c
				}
			}
		}
	}
}

// textPlain marks the bytes readText copies without a second look.
// Non-ASCII bytes are plain here; UTF-8 is checked once the text ends.
var textPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = true
	}
	for _, c := range "<&>\r'\"" {
		t[c] = false
	}
	t['\t'], t['\n'] = true, true
	return t
}()

// readText appends decoded text to out and sets t.text to it. With quote
// 0 it reads character data up to the next '<' (not consumed), or if
// t.cdata the content of a CDATA section up to and including "]]>";
// otherwise an attribute value up to and including the closing quote.
//
// As in encoding/xml, CR and CRLF become LF, "]]>" is an error in
// character data, and characters not allowed in XML 1.0 (or invalid
// UTF-8) are reported when the text ends, so an error of the source that
// comes first wins.
func (t *tokenizer) readText(quote byte) error {
	start := len(t.out)
	cdata := t.cdata
	var b0, b1 byte // the last two bytes read, 0 after a reference
	for {
		b := t.avail()
		i := 0
		for i < len(b) && textPlain[b[i]] {
			i++
		}
		if i > 0 {
			t.out = append(t.out, b[:i]...)
			t.advance(i)
			if i >= 2 {
				b0, b1 = b[i-2], b[i-1]
			} else {
				b0, b1 = b1, b[0]
			}
		}
		c, err := t.peek()
		if err != nil {
			return err
		}
		if quote == 0 && c == '>' && b0 == ']' && b1 == ']' {
			if !cdata {
				return syntaxErr("unescaped ]]> not in CDATA section")
			}
			t.skip()
			t.out = t.out[:len(t.out)-2]
			break
		}
		if c == '<' && !cdata {
			if quote != 0 {
				return syntaxErr("unescaped < inside quoted string")
			}
			break
		}
		t.skip()
		if c == quote && quote != 0 {
			break
		}
		switch {
		case c == '&' && !cdata:
			if err := t.readRef(); err != nil {
				return err
			}
			b0, b1 = 0, 0
			continue
		case c == '\r':
			t.out = append(t.out, '\n')
			b0, b1 = b1, c
			if c, err = t.peek(); err != nil {
				return err
			}
			if c == '\n' { // CRLF: the LF is dropped
				t.skip()
				b0, b1 = b1, c
			}
			continue
		default:
			t.out = append(t.out, c)
		}
		b0, b1 = b1, c
	}
	t.text = span{start, len(t.out)}
	return checkChars(t.out[start:])
}

// readRef decodes a reference after '&' and appends its text to out. Only
// the predefined entities and character references exist in XMPP: any
// other entity reference is restricted XML.
func (t *tokenizer) readRef() error {
	c, err := t.peek()
	if err != nil {
		return err
	}
	if c != '#' {
		s, _, err := t.readName()
		if err != nil {
			if _, ok := err.(*Error); !ok {
				return err
			}
			// Not a name: still a reference the stream may not use.
		}
		name := t.names[s.off:]
		t.names = t.names[:s.off]
		if c, err = t.next(); err != nil {
			return err
		}
		if c != ';' {
			return syntaxErr("entity reference &" + string(name) + " without semicolon")
		}
		if r := predefined(name); r != 0 {
			t.out = append(t.out, r)
			return nil
		}
		return newError(CondRestrictedXML, "entity reference &"+string(name)+";")
	}
	t.skip()
	if c, err = t.next(); err != nil {
		return err
	}
	base := uint32(10)
	if c == 'x' {
		base = 16
		if c, err = t.next(); err != nil {
			return err
		}
	}
	var n uint32
	digits := 0
	for {
		d := digitValue(c)
		if d >= base {
			break
		}
		if n <= utf8.MaxRune {
			n = n*base + d
		}
		digits++
		if c, err = t.next(); err != nil {
			return err
		}
	}
	switch {
	case c != ';':
		return syntaxErr("character reference without semicolon")
	case digits == 0 || n > utf8.MaxRune:
		return syntaxErr("invalid character reference")
	case 0xD800 <= n && n <= 0xDFFF:
		// encoding/xml turns these into U+FFFD; XML 1.0 §4.1 forbids them.
		return syntaxErr("character reference to a surrogate")
	}
	// Characters not allowed in XML (&#0;) are caught with the rest of
	// the text.
	t.out = utf8.AppendRune(t.out, rune(n))
	return nil
}

func digitValue(c byte) uint32 {
	switch {
	case '0' <= c && c <= '9':
		return uint32(c - '0')
	case 'a' <= c && c <= 'f':
		return uint32(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return uint32(c-'A') + 10
	}
	return 99
}

// predefined returns the character of one of the five entities every XML
// processor knows, or 0.
func predefined(name []byte) byte {
	switch string(name) {
	case "lt":
		return '<'
	case "gt":
		return '>'
	case "amp":
		return '&'
	case "apos":
		return '\''
	case "quot":
		return '"'
	}
	return 0
}

// checkChars reports invalid UTF-8 and characters outside the Char
// production of XML 1.0 §2.2 in decoded text.
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < utf8.RuneSelf || c == '\n' || c == '\t' || c == '\r' {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			return syntaxErr("character not allowed: " + strconv.QuoteRune(rune(c)))
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return syntaxErr("invalid UTF-8")
		}
		if r > 0xFFFD && r < 0x10000 {
			return syntaxErr("character not allowed: " + strconv.QuoteRune(r))
		}
		i += n
	}
	return nil
}
