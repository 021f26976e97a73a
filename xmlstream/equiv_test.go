package xmlstream

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzEquivalence checks that the decoder and the reference decoder of
// reference_test.go (the same rules on top of encoding/xml) agree on any
// input: the same elements, the same bytes left buffered after each, and
// the same error condition at the end. The only differences allowed are
// those knownDifference describes.
func FuzzEquivalence(f *testing.F) {
	for _, s := range equivSeeds(f) {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		lim := Limits{MaxStanzaBytes: 1024, MaxDepth: 8}
		compareStreams(t, []byte(testHeader), data, int(chunk), lim)
		compareStreams(t, nil, data, int(chunk), lim)
		e1, err1 := ParseElement(data, lim)
		e2, err2 := refParseElement(data, lim)
		compareResults(t, "ParseElement", e1, err1, e2, err2)
	})
}

// equivSeeds returns the inputs of the other tests and of testdata.
func equivSeeds(f *testing.F) []string {
	seeds := append([]string{benchMessage, testHeader + benchMessage}, fuzzSeeds...)
	seeds = append(seeds, equivExtra...)
	files, _ := filepath.Glob("testdata/fuzz/*/*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(v, ")")); err == nil {
					seeds = append(seeds, s)
				}
			}
		}
	}
	return seeds
}

// compareStreams reads head+data as a stream with both decoders, chunk
// bytes per Read (all at once if 0).
func compareStreams(t *testing.T, head, data []byte, chunk int, lim Limits) {
	t.Helper()
	input := append(append([]byte(nil), head...), data...)
	d1 := NewDecoder(&slowReader{b: input, n: chunk}, lim)
	d2 := newRefDecoder(&slowReader{b: input, n: chunk}, lim)
	h1, err1 := d1.ReadHeader()
	h2, err2 := d2.ReadHeader()
	if h1 != h2 && err1 == nil && err2 == nil {
		t.Fatalf("headers differ:\n new %+v\n old %+v", h1, h2)
	}
	if compareErrors(t, "ReadHeader", err1, err2) {
		return
	}
	for i := 0; ; i++ {
		e1, err1 := d1.ReadElement()
		e2, err2 := d2.ReadElement()
		if compareResults(t, fmt.Sprintf("element %d", i), e1, err1, e2, err2) {
			return
		}
		if b1, b2 := d1.Buffered(), d2.Buffered(); b1 != b2 {
			t.Fatalf("element %d: %d bytes buffered, reference %d", i, b1, b2)
		}
	}
}

// compareResults reports whether either failed, after checking that both
// did (alike) or that both read the same tree.
func compareResults(t *testing.T, what string, e1 *Element, err1 error, e2 *Element, err2 error) bool {
	t.Helper()
	if err1 != nil || err2 != nil {
		return compareErrors(t, what, err1, err2)
	}
	if diff := treeDiff(e1, e2); diff != "" {
		t.Fatalf("%s: trees differ: %s\n new %#v\n old %#v", what, diff, e1, e2)
	}
	return false
}

// compareErrors reports whether either error is non-nil, after checking
// that they agree.
func compareErrors(t *testing.T, what string, err1, err2 error) bool {
	t.Helper()
	if err1 == nil && err2 == nil {
		return false
	}
	if condition(err1) != condition(err2) && !knownDifference(err1, err2) {
		t.Fatalf("%s: error %v, reference error %v", what, err1, err2)
	}
	return true
}

// knownDifference reports whether the new decoder's error err1 and the
// reference's err2 differ on purpose:
//
//   - A character reference to a surrogate (&#xD800;) is not a character
//     (XML 1.0 §4.1, "Legal Character"); encoding/xml decodes it as
//     U+FFFD.
//   - A misplaced XML declaration is restricted-xml whatever it says;
//     encoding/xml first rejects, as not-well-formed, one whose version or
//     encoding it does not support.
//   - A stream in (or declared in) an encoding other than UTF-8 is
//     unsupported-encoding (RFC 6120 §11.6).
//   - More than maxBindings namespace declarations in scope are a
//     policy-violation.
func knownDifference(err1, err2 error) bool {
	var e1, e2 *Error
	errors.As(err1, &e1)
	errors.As(err2, &e2)
	switch {
	case e1 != nil && e1.Text == "character reference to a surrogate":
		return true
	case e1 != nil && e2 != nil && e1.Condition == CondUnsupportedEncoding && e2.Condition == CondNotWellFormed:
		// RFC 6120 §11.6: a stream not in UTF-8 is unsupported-encoding.
		return true
	case e1 != nil && e1.Condition == CondPolicyViolation && strings.HasSuffix(e1.Text, "namespace declarations in scope"):
		// maxBindings: encoding/xml has no such bound.
		return true
	case e1 != nil && e2 != nil && e1.Condition == CondRestrictedXML && e2.Condition == CondNotWellFormed &&
		(strings.Contains(e2.Text, "only version 1.0 is supported") || strings.Contains(e2.Text, "CharsetReader is nil")):
		return true
	}
	return false
}

// treeDiff describes the first difference between a and b, which must be
// identical down to the order of attributes and the split of text.
func treeDiff(a, b *Element) string {
	if a.Name != b.Name {
		return fmt.Sprintf("name %v != %v", a.Name, b.Name)
	}
	if len(a.Attrs) != len(b.Attrs) || (a.Attrs == nil) != (b.Attrs == nil) {
		return fmt.Sprintf("attributes of %s: %v != %v", a.Name.Local, a.Attrs, b.Attrs)
	}
	for i := range a.Attrs {
		if a.Attrs[i] != b.Attrs[i] {
			return fmt.Sprintf("attribute of %s: %v != %v", a.Name.Local, a.Attrs[i], b.Attrs[i])
		}
	}
	if len(a.Children) != len(b.Children) || (a.Children == nil) != (b.Children == nil) {
		return fmt.Sprintf("children of %s: %d != %d", a.Name.Local, len(a.Children), len(b.Children))
	}
	for i := range a.Children {
		switch x := a.Children[i].(type) {
		case Text:
			if y, ok := b.Children[i].(Text); !ok || x != y {
				return fmt.Sprintf("child %d of %s: %q != %#v", i, a.Name.Local, x, b.Children[i])
			}
		case *Element:
			y, ok := b.Children[i].(*Element)
			if !ok {
				return fmt.Sprintf("child %d of %s: element != %#v", i, a.Name.Local, b.Children[i])
			}
			if d := treeDiff(x, y); d != "" {
				return d
			}
		}
	}
	return ""
}

// slowReader returns at most n bytes per Read (all if n is 0).
type slowReader struct {
	b []byte
	n int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.n > 0 && len(p) > r.n {
		p = p[:r.n]
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

var equivExtra = []string{
	`<?xml version='1.0' encoding='UTF-8'?>` + "\n" + testHeader + `<presence/></stream:stream>`,
	`<?xml version="1.0" standalone='yes'?><a xmlns='urn:a'/>`,
	`<?xml version='1.1'?><a/>`,
	`<presence/><?xml version='2.0'?>`,
	`<message a='&lt;&amp;&gt;&apos;&quot;&#65;&#x42;'><body>&lt;&#x1F600;<![CDATA[<&>]]>&amp;</body></message>`,
	"<a b='x\r\ny\rz'>\r\n\r\r\n<![CDATA[\r\n]]]]></a>",
	`<a>&#xD800;&#0;&#x110000;&#X41;&#;&#x;&1;&;</a>`,
	`<!DOCTYPE a [<!ENTITY x "y"> <!-- c --> '>' ]><a/>`,
	`<!--->--><!---- -->`,
	`<a b='1'c='2'/><a b = "1" / >`,
	`<p:a xmlns:p='urn:p' p:b='1' xml:lang='en'><p:c/></p:a></p:a>`,
	`<a:b:c/><:a/><a:/>`,
	"<\u00e9t\u00e9 \u4e2d='1'/><a\u0301/><a\xff/>",
	`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features></stream:stream>`,
	`<a xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:error/></a>`,
	"<a>]]></a><a>]]]></a><a b=']]>'/>",
	`<?pi x?><?xml?><?xml-stylesheet?><? x?>`,
	`<a><b><c><d><e><f><g><h><i/></h></g></f></e></d></c></b></a>`,
}
