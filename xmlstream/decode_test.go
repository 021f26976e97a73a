package xmlstream

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

const testHeader = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`

// chunkReader returns one chunk per Read call, then io.EOF; a nil error in
// errs at the same index is returned with the chunk.
type chunkReader struct {
	chunks []string
	errs   map[int]error
	i      int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.i < len(r.chunks) {
		i := r.i
		if err := r.errs[i]; err != nil {
			delete(r.errs, i)
			return 0, err
		}
		if r.chunks[i] == "" {
			r.i++
			continue
		}
		n := copy(p, r.chunks[i])
		r.chunks[i] = r.chunks[i][n:]
		if r.chunks[i] == "" {
			r.i++
		}
		return n, nil
	}
	return 0, io.EOF
}

// genReader produces prefix and then fill bytes forever, counting what was
// read.
type genReader struct {
	prefix string
	fill   byte
	n      int64
}

func (r *genReader) Read(p []byte) (int, error) {
	k := copy(p, r.prefix)
	r.prefix = r.prefix[k:]
	for i := k; i < len(p); i++ {
		p[i] = r.fill
	}
	r.n += int64(len(p))
	return len(p), nil
}

// readAll reads the header and all elements of a stream, returning the
// elements serialised against jabber:client and the error that ended it.
func readAll(t *testing.T, input string, lim Limits) ([]string, error) {
	t.Helper()
	d := NewDecoder(strings.NewReader(input), lim)
	if _, err := d.ReadHeader(); err != nil {
		return nil, err
	}
	var out []string
	for {
		e, err := d.ReadElement()
		if err != nil {
			return out, err
		}
		out = append(out, string(e.Append(nil, "jabber:client")))
	}
}

func condition(err error) string {
	var xe *Error
	if errors.As(err, &xe) {
		return xe.Condition
	}
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrStreamEnd):
		return "end"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return "other: " + err.Error()
}

func TestReadHeader(t *testing.T) {
	stream := xml.Name{Space: NSStream, Local: "stream"}
	tests := []struct {
		name  string
		input string
		want  Header
		cond  string
	}{
		{
			name:  "plain",
			input: testHeader,
			want:  Header{Name: stream, DefaultNS: "jabber:client", To: "example.com", Version: "1.0"},
		},
		{
			name:  "declaration",
			input: `<?xml version='1.0' encoding='UTF-8'?>` + "\n" + `<stream:stream from='juliet@example.com' to='example.com' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
			want:  Header{Name: stream, DefaultNS: "jabber:client", From: "juliet@example.com", To: "example.com", Version: "1.0", Lang: "en"},
		},
		{
			name:  "declaration double quotes standalone",
			input: `<?xml version="1.0" encoding="utf-8" standalone="yes"?><stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams" id="abc">`,
			want:  Header{Name: stream, DefaultNS: "jabber:server", ID: "abc"},
		},
		{
			name:  "leading whitespace",
			input: "\n  " + testHeader,
			want:  Header{Name: stream, DefaultNS: "jabber:client", To: "example.com", Version: "1.0"},
		},
		{
			name:  "unprefixed",
			input: `<stream xmlns='http://etherx.jabber.org/streams' to='example.com'>`,
			want:  Header{Name: stream, DefaultNS: NSStream, To: "example.com"},
		},
		{
			name:  "wrong namespace is returned",
			input: `<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>`,
			want:  Header{Name: xml.Name{Space: "urn:wrong", Local: "stream"}, DefaultNS: "jabber:client"},
		},
		{name: "whitespace before declaration", input: ` <?xml version='1.0'?>` + testHeader, cond: CondRestrictedXML},
		{name: "version 1.1", input: `<?xml version='1.1'?>` + testHeader, cond: CondNotWellFormed},
		{name: "no version", input: `<?xml encoding='UTF-8'?>` + testHeader, cond: CondNotWellFormed},
		{name: "latin-1", input: `<?xml version='1.0' encoding='ISO-8859-1'?>` + testHeader, cond: CondUnsupportedEncoding},
		{name: "two declarations", input: `<?xml version='1.0'?><?xml version='1.0'?>` + testHeader, cond: CondRestrictedXML},
		{name: "comment", input: `<!-- hi -->` + testHeader, cond: CondRestrictedXML},
		{name: "processing instruction", input: `<?xml version='1.0'?><?foo bar?>` + testHeader, cond: CondRestrictedXML},
		{name: "doctype", input: `<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]>` + testHeader, cond: CondRestrictedXML},
		{name: "text", input: "GET / HTTP/1.1\r\n\r\n", cond: CondNotWellFormed},
		{name: "other element", input: `<message xmlns='jabber:client'/>`, cond: CondBadFormat},
		{name: "end tag", input: `</stream:stream>`, cond: CondNotWellFormed},
		{name: "undeclared prefix", input: `<stream:stream xmlns='jabber:client' to='example.com'>`, cond: CondNotWellFormed},
		{name: "duplicate attribute", input: `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a' to='b'>`, cond: CondNotWellFormed},
		{name: "truncated", input: `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a`, cond: "EOF"},
		{name: "empty", input: ``, cond: "EOF"},
		{name: "too big", input: `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='` + strings.Repeat("a", 300) + `'>`, cond: CondPolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tt.input), Limits{MaxStanzaBytes: 256})
			h, err := d.ReadHeader()
			if got := condition(err); got != tt.cond {
				t.Fatalf("ReadHeader error = %v, want condition %q", err, tt.cond)
			}
			if tt.cond == "" && h != tt.want {
				t.Errorf("ReadHeader = %+v, want %+v", h, tt.want)
			}
		})
	}
}

func TestReadElement(t *testing.T) {
	tests := []struct {
		name  string
		input string // after testHeader
		want  []string
		cond  string // of the error that ends the stream
	}{
		{
			name:  "simple",
			input: `<message to='romeo@example.net' type='chat'><body>Hi</body></message></stream:stream>`,
			want:  []string{`<message to='romeo@example.net' type='chat'><body>Hi</body></message>`},
			cond:  "end",
		},
		{
			name:  "nested namespaces",
			input: `<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>x</group></item></query></iq><iq type='set' id='2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item><x xmlns='jabber:x:data'/></item></publish></pubsub></iq>`,
			want: []string{
				`<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>x</group></item></query></iq>`,
				`<iq type='set' id='2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item><x xmlns='jabber:x:data'/></item></publish></pubsub></iq>`,
			},
			cond: "EOF",
		},
		{
			name:  "prefixed elements",
			input: `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features><stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error><p:x xmlns:p='urn:p'><p:y/><z/></p:x>`,
			want: []string{
				`<features xmlns='http://etherx.jabber.org/streams'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></features>`,
				`<error xmlns='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error>`,
				`<x xmlns='urn:p'><y/><z xmlns='jabber:client'/></x>`,
			},
			cond: "EOF",
		},
		{
			name:  "xml:lang and prefixed attributes",
			input: `<message xml:lang='de' xmlns:q='urn:q' q:a='1' q:b='2'><body xml:lang='en'>x</body></message>`,
			want:  []string{`<message xml:lang='de' xmlns:a0='urn:q' a0:a='1' a0:b='2'><body xml:lang='en'>x</body></message>`},
			cond:  "EOF",
		},
		{
			name:  "non-ASCII names",
			input: "<p:\u00e9t\u00e9 xmlns:p='urn:p' p:\u4e2d='1'/>",
			want:  []string{"<\u00e9t\u00e9 xmlns='urn:p' xmlns:a0='urn:p' a0:\u4e2d='1'/>"},
			cond:  "EOF",
		},
		{
			name:  "mixed content",
			input: `<message><p xmlns='urn:x'>Hello <b>world</b>!</p></message>`,
			want:  []string{`<message><p xmlns='urn:x'>Hello <b>world</b>!</p></message>`},
			cond:  "EOF",
		},
		{
			name:  "entities and CDATA",
			input: `<message a='&lt;&amp;&gt;&apos;&quot;&#65;&#x42;'><body>&lt;&#x1F600;<![CDATA[<&>]]>&amp;</body></message>`,
			want:  []string{`<message a='&lt;&amp;&gt;&apos;&quot;AB'><body>&lt;` + "\U0001F600" + `&lt;&amp;&gt;&amp;</body></message>`},
			cond:  "EOF",
		},
		{
			name:  "keepalives",
			input: " \n\t\r\n<presence/> \n \n<presence/>\n\n </stream:stream>",
			want:  []string{`<presence/>`, `<presence/>`},
			cond:  "end",
		},
		{
			name:  "whitespace inside elements kept",
			input: "<message>\n  <body>a</body>\n</message>",
			want:  []string{"<message>\n  <body>a</body>\n</message>"},
			cond:  "EOF",
		},
		{
			name:  "undeclared default namespace",
			input: `<message><x xmlns=''><y/></x></message>`,
			want:  []string{`<message><x xmlns=''><y/></x></message>`},
			cond:  "EOF",
		},
		{
			name:  "data after the end is ignored",
			input: `<presence/></stream:stream><garbage`,
			want:  []string{`<presence/>`},
			cond:  "end",
		},
		{
			name:  "truncated element",
			input: `<presence/><message><body>hi`,
			want:  []string{`<presence/>`},
			cond:  "EOF",
		},

		// restricted XML (RFC 6120 §11.1)
		{name: "comment at stream level", input: `<presence/><!-- hi -->`, want: []string{`<presence/>`}, cond: CondRestrictedXML},
		{name: "comment in stanza", input: `<message><!-- hi --></message>`, cond: CondRestrictedXML},
		{name: "processing instruction", input: `<?foo bar?>`, cond: CondRestrictedXML},
		{name: "processing instruction in stanza", input: `<message><?foo bar?></message>`, cond: CondRestrictedXML},
		{name: "late XML declaration", input: `<?xml version='1.0'?>`, cond: CondRestrictedXML},
		{name: "doctype", input: `<!DOCTYPE message>`, cond: CondRestrictedXML},
		{name: "entity declaration", input: `<!ENTITY x 'y'>`, cond: CondRestrictedXML},
		{name: "doctype in stanza", input: `<message><!DOCTYPE x></message>`, cond: CondRestrictedXML},
		{name: "entity reference", input: `<message><body>&xxe;</body></message>`, cond: CondRestrictedXML},
		{name: "entity reference in attribute", input: `<message to='&xxe;'/>`, cond: CondRestrictedXML},

		// not well-formed
		{name: "mismatched end tag", input: `<message><body></message></body>`, cond: CondNotWellFormed},
		{name: "mismatched prefix", input: `<stream:features></features>`, cond: CondNotWellFormed},
		{name: "stray end tag", input: `</message>`, cond: CondNotWellFormed},
		{name: "unquoted attribute", input: `<message to=a/>`, cond: CondNotWellFormed},
		{name: "attribute without value", input: `<message to/>`, cond: CondNotWellFormed},
		{name: "duplicate attribute", input: `<message to='a' to='b'/>`, cond: CondNotWellFormed},
		{name: "duplicate attribute after resolution", input: `<message xmlns:p='urn:x' xmlns:q='urn:x' p:a='1' q:a='2'/>`, cond: CondNotWellFormed},
		{name: "duplicate namespace declaration", input: `<message xmlns:p='urn:x' xmlns:p='urn:y'/>`, cond: CondNotWellFormed},
		{name: "invalid UTF-8", input: "<message><body>\xff</body></message>", cond: CondNotWellFormed},
		{name: "invalid UTF-8 in attribute", input: "<message to='\xc3'/>", cond: CondNotWellFormed},
		{name: "control character", input: "<message><body>\x01</body></message>", cond: CondNotWellFormed},
		{name: "NUL at stream level", input: "\x00", cond: CondNotWellFormed},
		{name: "character reference to NUL", input: `<message><body>&#0;</body></message>`, cond: CondNotWellFormed},
		{name: "character reference to U+FFFE", input: `<message><body>&#xFFFE;</body></message>`, cond: CondNotWellFormed},
		{name: "empty character reference", input: `<message><body>&#;</body></message>`, cond: CondNotWellFormed},
		{name: "bare ampersand", input: `<message><body>a & b</body></message>`, cond: CondNotWellFormed},
		{name: "reference without semicolon", input: `<message><body>&amp</body></message>`, cond: CondNotWellFormed},
		{name: "lt in attribute", input: `<message to='<'/>`, cond: CondNotWellFormed},
		{name: "]]> in text", input: `<message><body>]]></body></message>`, cond: CondNotWellFormed},
		{name: "undeclared element prefix", input: `<p:message/>`, cond: CondNotWellFormed},
		{name: "undeclared attribute prefix", input: `<message p:to='a'/>`, cond: CondNotWellFormed},
		{name: "prefix out of scope", input: `<message><x xmlns:p='urn:p'/><p:y/></message>`, cond: CondNotWellFormed},
		{name: "empty prefix binding", input: `<message xmlns:p=''/>`, cond: CondNotWellFormed},
		{name: "rebinding xml", input: `<message xmlns:xml='urn:x'/>`, cond: CondNotWellFormed},
		{name: "declaring xmlns", input: `<message xmlns:xmlns='urn:x'/>`, cond: CondNotWellFormed},
		{name: "binding the xml namespace", input: `<message xmlns:p='http://www.w3.org/XML/1998/namespace'/>`, cond: CondNotWellFormed},
		{name: "xml prefix on element", input: `<xml:message/>`, cond: CondNotWellFormed},
		{name: "empty local name", input: `<message p:='a' xmlns:p='urn:p'/>`, cond: CondNotWellFormed},
		{name: "leading colon", input: `<:message/>`, cond: CondNotWellFormed},
		{name: "two colons", input: `<a:b:c/>`, cond: CondNotWellFormed},
		{name: "bad name", input: `<1message/>`, cond: CondNotWellFormed},
		{name: "local name starting with a digit", input: `<p:0 xmlns:p='urn:p'/>`, cond: CondNotWellFormed},
		{name: "local name starting with a combining mark", input: "<p:\u0301a xmlns:p='urn:p'/>", cond: CondNotWellFormed},
		{name: "attribute local name starting with a dot", input: `<message xmlns:p='urn:p' p:.a=''/>`, cond: CondNotWellFormed},
		{name: "prefix declaration not an NCName", input: `<message xmlns:p='urn:p' xmlns:p:q='urn:q'/>`, cond: CondNotWellFormed},
		{name: "junk after lt", input: `< message/>`, cond: CondNotWellFormed},

		// text at stream level
		{name: "text", input: `hello`, cond: CondBadFormat},
		{name: "text after stanza", input: `<presence/> x <presence/>`, want: []string{`<presence/>`}, cond: CondBadFormat},
		{name: "CDATA at stream level", input: `<![CDATA[x]]>`, cond: CondBadFormat},
		{name: "reference at stream level", input: `&amp;`, cond: CondBadFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, testHeader+tt.input, Limits{})
			if c := condition(err); c != tt.cond {
				t.Errorf("error = %v, want condition %q", err, tt.cond)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("elements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestReadElementTree(t *testing.T) {
	input := testHeader + `<message xml:lang='en' xmlns:x='urn:x' x:y='z' id='1'><p xmlns='urn:p'>Hello <b>world</b>!</p><stream:error/></message>`
	d := NewDecoder(strings.NewReader(input), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	got, err := d.ReadElement()
	if err != nil {
		t.Fatal(err)
	}
	want := &Element{
		Name: xml.Name{Space: "jabber:client", Local: "message"},
		Attrs: []xml.Attr{
			{Name: xml.Name{Space: "xml", Local: "lang"}, Value: "en"},
			{Name: xml.Name{Space: "urn:x", Local: "y"}, Value: "z"},
			{Name: xml.Name{Local: "id"}, Value: "1"},
		},
		Children: []Node{
			&Element{
				Name: xml.Name{Space: "urn:p", Local: "p"},
				Children: []Node{
					Text("Hello "),
					&Element{Name: xml.Name{Space: "urn:p", Local: "b"}, Children: []Node{Text("world")}},
					Text("!"),
				},
			},
			&Element{Name: xml.Name{Space: NSStream, Local: "error"}},
		},
	}
	if !got.Equal(want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	// Exact structure, not just Equal: text runs are not split or merged
	// differently.
	p := got.Children[0].(*Element)
	if len(p.Children) != 3 || p.Children[0] != Text("Hello ") || p.Children[2] != Text("!") {
		t.Errorf("mixed content children = %#v", p.Children)
	}
	if got.Lang() != "en" || got.Attr("id") != "1" || got.AttrNS("urn:x", "y") != "z" {
		t.Errorf("attributes: lang %q id %q y %q", got.Lang(), got.Attr("id"), got.AttrNS("urn:x", "y"))
	}
}

func TestLimits(t *testing.T) {
	nest := func(n int) string {
		return strings.Repeat("<a>", n) + strings.Repeat("</a>", n)
	}
	tests := []struct {
		name  string
		lim   Limits
		input string
		n     int // elements read before the error
		cond  string
	}{
		{name: "depth at limit", lim: Limits{MaxDepth: 4}, input: nest(4), n: 1, cond: "EOF"},
		{name: "depth over limit", lim: Limits{MaxDepth: 4}, input: nest(5), cond: CondPolicyViolation},
		{name: "default depth at limit", input: nest(32), n: 1, cond: "EOF"},
		{name: "default depth over limit", input: nest(33), cond: CondPolicyViolation},
		{name: "message with body is depth 2", lim: Limits{MaxDepth: 2}, input: `<message><body/></message>`, n: 1, cond: "EOF"},
		{name: "size at limit", lim: Limits{MaxStanzaBytes: 200}, input: `<message>` + strings.Repeat("x", 200-len(`<message></message>`)) + `</message>`, n: 1, cond: "EOF"},
		{name: "size over limit", lim: Limits{MaxStanzaBytes: 200}, input: `<message>` + strings.Repeat("x", 201-len(`<message></message>`)) + `</message>`, cond: CondPolicyViolation},
		{name: "limit is per element", lim: Limits{MaxStanzaBytes: 200}, input: strings.Repeat(`<message>`+strings.Repeat("x", 170)+`</message>`, 10), n: 10, cond: "EOF"},
		{name: "whitespace does not count", lim: Limits{MaxStanzaBytes: 200}, input: strings.Repeat(" \n", 1000) + `<presence/>` + strings.Repeat(" ", 1000) + `<presence/>`, n: 2, cond: "EOF"},
		{name: "huge attribute", lim: Limits{MaxStanzaBytes: 1000}, input: `<message to='` + strings.Repeat("a", 5000) + `'/>`, cond: CondPolicyViolation},
		{name: "many attributes", lim: Limits{MaxStanzaBytes: 1000}, input: `<message` + strings.Repeat(` a='b'`, 1000) + `/>`, cond: CondPolicyViolation},
		{name: "huge comment", lim: Limits{MaxStanzaBytes: 1000}, input: `<!--` + strings.Repeat("a", 5000), cond: CondPolicyViolation},
		{name: "huge end tag", lim: Limits{MaxStanzaBytes: 1000}, input: `</` + strings.Repeat("a", 5000), cond: CondPolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, testHeader+tt.input, tt.lim)
			if c := condition(err); c != tt.cond || len(got) != tt.n {
				t.Errorf("read %d elements, error %v; want %d, condition %q", len(got), err, tt.n, tt.cond)
			}
		})
	}
}

// TestHugeInputFailsEarly checks that oversized input is rejected after
// reading about MaxStanzaBytes, without reading (or buffering) all of it.
func TestHugeInputFailsEarly(t *testing.T) {
	const max = 65536
	tests := []struct {
		name   string
		header bool
		prefix string
		fill   byte
	}{
		{name: "attribute value", header: true, prefix: testHeader + `<message to='`, fill: 'x'},
		{name: "text", header: true, prefix: testHeader + `<message><body>`, fill: 'x'},
		{name: "nested start tags", header: true, prefix: testHeader + `<message>`, fill: '<'},
		{name: "element name", header: true, prefix: testHeader + `<m`, fill: 'm'},
		{name: "header attribute", prefix: `<stream:stream to='`, fill: 'x'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &genReader{prefix: tt.prefix, fill: tt.fill}
			d := NewDecoder(r, Limits{MaxStanzaBytes: max})
			_, err := d.ReadHeader()
			if tt.header {
				if err != nil {
					t.Fatal(err)
				}
				_, err = d.ReadElement()
			}
			if c := condition(err); c != CondPolicyViolation && !(tt.fill == '<' && c == CondNotWellFormed) {
				t.Errorf("error = %v, want policy-violation", err)
			}
			if r.n >= max+int64(len(tt.prefix))+8192 {
				t.Errorf("read %d bytes for a %d-byte limit", r.n, max)
			}
		})
	}
	t.Run("10 MB attribute value", func(t *testing.T) {
		r := &genReader{prefix: testHeader + `<message to='`, fill: 'x'}
		d := NewDecoder(io.LimitReader(r, 10<<20), Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		_, err := d.ReadElement()
		if c := condition(err); c != CondPolicyViolation {
			t.Fatalf("error = %v, want policy-violation", err)
		}
		if r.n >= DefaultMaxStanzaBytes+8192 {
			t.Errorf("read %d bytes for a %d-byte limit", r.n, DefaultMaxStanzaBytes)
		}
	})
}

type timeoutError struct{}

func (timeoutError) Error() string { return "i/o timeout" }
func (timeoutError) Timeout() bool { return true }

func TestKeepalivesAndPauses(t *testing.T) {
	r := &chunkReader{
		chunks: []string{testHeader, " ", "\n", " ", "<mess", "age><bo", "dy>hi</body></message>", " ", " ", "\n", "<presence/>", " ", "</stream:stream>"},
		errs:   map[int]error{2: timeoutError{}, 4: timeoutError{}, 9: timeoutError{}},
	}
	d := NewDecoder(r, Limits{MaxStanzaBytes: len(testHeader)})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 20 {
		e, err := d.ReadElement()
		if errors.Is(err, ErrStreamEnd) {
			break
		}
		var te timeoutError
		if errors.As(err, &te) {
			got = append(got, "timeout")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.String())
	}
	want := []string{
		"timeout", "timeout",
		`<message xmlns='jabber:client'><body>hi</body></message>`,
		"timeout",
		`<presence xmlns='jabber:client'/>`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := d.ReadElement(); !errors.Is(err, ErrStreamEnd) {
		t.Errorf("after the end: %v, want ErrStreamEnd", err)
	}
}

func TestReadErrorInsideElement(t *testing.T) {
	r := &chunkReader{
		chunks: []string{testHeader, "<message><bo", "dy>hi</body></message>"},
		errs:   map[int]error{2: timeoutError{}},
	}
	d := NewDecoder(r, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := d.ReadElement(); !errors.As(err, new(timeoutError)) {
			t.Fatalf("ReadElement = %v, want the reader's error", err)
		}
	}
}

func TestErrorsAreSticky(t *testing.T) {
	d := NewDecoder(strings.NewReader(testHeader+`<!-- x --><presence/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err1 := d.ReadElement()
	_, err2 := d.ReadElement()
	if condition(err1) != CondRestrictedXML || err2 != err1 {
		t.Errorf("errors %v, %v; want the same restricted-xml error twice", err1, err2)
	}
	if _, err := NewDecoder(strings.NewReader(""), Limits{}).ReadElement(); err == nil {
		t.Error("ReadElement before ReadHeader succeeded")
	}
}

func TestSelfClosingHeader(t *testing.T) {
	d := NewDecoder(strings.NewReader(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := d.ReadElement(); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStreamEnd) {
			t.Errorf("ReadElement = %v, want ErrStreamEnd", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadElement blocked")
	}
}

func TestStreamRestart(t *testing.T) {
	tests := []struct {
		name    string
		restart string
	}{
		{"header", testHeader},
		{"declaration", `<?xml version='1.0'?>` + testHeader},
		{"whitespace and declaration", "\n<?xml version='1.0'?>\n" + testHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Everything arrives at once: the restart must not lose
			// what follows the first stream's last element.
			input := testHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + tt.restart + `<iq type='set'/></stream:stream>`
			d := NewDecoder(strings.NewReader(input), Limits{})
			if _, err := d.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			if e, err := d.ReadElement(); err != nil || e.Name.Local != "auth" {
				t.Fatalf("first element %v, %v", e, err)
			}
			h, err := d.ReadHeader()
			if err != nil || h.DefaultNS != "jabber:client" {
				t.Fatalf("restart header %+v, %v", h, err)
			}
			if e, err := d.ReadElement(); err != nil || e.String() != `<iq xmlns='jabber:client' type='set'/>` {
				t.Fatalf("element after restart %v, %v", e, err)
			}
			if _, err := d.ReadElement(); !errors.Is(err, ErrStreamEnd) {
				t.Fatalf("end: %v", err)
			}
		})
	}
}

func TestResetAndBuffered(t *testing.T) {
	d := NewDecoder(strings.NewReader(testHeader+`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><injected/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	if n := d.Buffered(); n != len(`<injected/>`) {
		t.Errorf("Buffered = %d, want %d", n, len(`<injected/>`))
	}
	d.Reset(strings.NewReader(`<?xml version='1.0'?>` + testHeader + `<presence/>`))
	if d.Buffered() != 0 {
		t.Errorf("Buffered after Reset = %d", d.Buffered())
	}
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if e, err := d.ReadElement(); err != nil || e.Name.Local != "presence" {
		t.Fatalf("after Reset: %v, %v", e, err)
	}
}

func TestIdleMemory(t *testing.T) {
	d := NewDecoder(strings.NewReader(testHeader+`<message><body>`+strings.Repeat("x", 50000)+`</body></message>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	if d.br.big != nil || d.sc != nil || d.tok.out != nil || d.pels != nil || d.stack != nil {
		t.Errorf("idle decoder holds big buffer %v, scratch space %v", d.br.big != nil, d.sc != nil)
	}
}

func TestParseElement(t *testing.T) {
	tests := []struct {
		name  string
		input string
		lim   Limits
		want  string
		cond  string
	}{
		{name: "simple", input: `<message xmlns='jabber:client' to='a@b'><body>x</body></message>`, want: `<message xmlns='jabber:client' to='a@b'><body>x</body></message>`},
		{name: "framing open", input: `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0"/>`, want: `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>`},
		{name: "whitespace around", input: "\n  <presence xmlns='jabber:client'/>\r\n ", want: `<presence xmlns='jabber:client'/>`},
		{name: "declaration", input: `<?xml version='1.0'?>` + "\n<presence xmlns='jabber:client'/>", want: `<presence xmlns='jabber:client'/>`},
		{name: "no namespace", input: `<a><b/></a>`, want: `<a><b/></a>`},
		{name: "stream prefix declared", input: `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><x xmlns='urn:x'/></stream:error>`, want: `<error xmlns='http://etherx.jabber.org/streams'><x xmlns='urn:x'/></error>`},
		{name: "empty", input: ``, cond: CondNotWellFormed},
		{name: "only whitespace", input: "  \n", cond: CondNotWellFormed},
		{name: "only declaration", input: `<?xml version='1.0'?>`, cond: CondNotWellFormed},
		{name: "two elements", input: `<a/><b/>`, cond: CondNotWellFormed},
		{name: "trailing text", input: `<a/>x`, cond: CondNotWellFormed},
		{name: "trailing comment", input: `<a/><!-- x -->`, cond: CondNotWellFormed},
		{name: "leading text", input: `x<a/>`, cond: CondNotWellFormed},
		{name: "truncated", input: `<a><b>`, cond: CondNotWellFormed},
		{name: "truncated tag", input: `<a`, cond: CondNotWellFormed},
		{name: "end tag only", input: `</a>`, cond: CondNotWellFormed},
		{name: "undeclared stream prefix", input: `<stream:error/>`, cond: CondNotWellFormed},
		{name: "comment", input: `<a><!-- x --></a>`, cond: CondRestrictedXML},
		{name: "doctype", input: `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, cond: CondRestrictedXML},
		{name: "entity", input: `<a>&x;</a>`, cond: CondRestrictedXML},
		{name: "declaration after whitespace", input: ` <?xml version='1.0'?><a/>`, cond: CondRestrictedXML},
		{name: "too big", input: `<a>` + strings.Repeat("x", 100) + `</a>`, lim: Limits{MaxStanzaBytes: 100}, cond: CondPolicyViolation},
		{name: "too deep", input: `<a><b><c/></b></a>`, lim: Limits{MaxDepth: 2}, cond: CondPolicyViolation},
		{name: "depth at limit", input: `<a><b><c/></b></a>`, lim: Limits{MaxDepth: 3}, want: `<a><b><c/></b></a>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseElement([]byte(tt.input), tt.lim)
			if c := condition(err); c != tt.cond {
				t.Fatalf("error = %v, want condition %q", err, tt.cond)
			}
			if err == nil && e.String() != tt.want {
				t.Errorf("got %s, want %s", e, tt.want)
			}
		})
	}
}

func TestParseElementDoesNotAlias(t *testing.T) {
	data := []byte(`<a x='1'>text</a>`)
	e, err := ParseElement(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'z'
	}
	if e.String() != `<a x='1'>text</a>` {
		t.Errorf("element changed with its input: %s", e)
	}
}

// A stream header where a top-level element belongs is an error at once,
// not an element whose content is the rest of the stream.
func TestHeaderInsideStream(t *testing.T) {
	r := &chunkReader{chunks: []string{testHeader, testHeader, `<message/>`}, errs: map[int]error{3: errors.New("read past the header")}}
	d := NewDecoder(r, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err := d.ReadElement()
	var xe *Error
	if !errors.As(err, &xe) || xe.Condition != CondBadFormat {
		t.Fatalf("ReadElement = %v, want %s", err, CondBadFormat)
	}
}
