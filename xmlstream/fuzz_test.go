package xmlstream

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

var fuzzSeeds = []string{
	`<message to='a@b' type='chat'><body>hi &amp; &#x1F600;</body></message>`,
	`<p xmlns='urn:x'>Hello <b>world</b>!<![CDATA[<&>]]></p> <presence/>`,
	`<stream:features><x xmlns:p='urn:p' p:a='1' xml:lang='en'/></stream:features></stream:stream>`,
	`<a><b><c><d/></c></b></a>`,
	`<!-- c --><?pi?><!DOCTYPE x>`,
	`<a>&foo;</a>`,
	"<a b='\t\r\n'>\r\n\x00</a>",
	`<a xmlns='' xmlns:q='urn:q'><q:b q:c=''/></a>`,
	`text<a/>`,
}

// checkRoundTrip requires that e re-serialises to something ParseElement
// accepts and that compares equal.
func checkRoundTrip(t *testing.T, e *Element, depth int) {
	t.Helper()
	s := e.String()
	e2, err := ParseElement([]byte(s), Limits{MaxStanzaBytes: 1 << 30, MaxDepth: depth})
	if err != nil {
		t.Fatalf("ParseElement(%q): %v", s, err)
	}
	if !e.Equal(e2) {
		t.Fatalf("round trip of %q changed the tree:\n%#v\n%#v", s, e, e2)
	}
	if s2 := e2.String(); s2 != s {
		t.Fatalf("serialisation not stable:\n%q\n%q", s, s2)
	}
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var xe *Error
	if errors.As(err, &xe) {
		switch xe.Condition {
		case CondNotWellFormed, CondRestrictedXML, CondPolicyViolation, CondBadFormat, CondUnsupportedEncoding:
			return
		}
		t.Fatalf("unexpected condition %q", xe.Condition)
	}
	if err != ErrStreamEnd && err != io.EOF {
		t.Fatalf("unexpected error %T %v", err, err)
	}
}

func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	lim := Limits{MaxStanzaBytes: 4096, MaxDepth: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := io.MultiReader(bytes.NewReader([]byte(testHeader)), bytes.NewReader(data))
		d := NewDecoder(r, lim)
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		for {
			e, err := d.ReadElement()
			if err != nil {
				checkErr(t, err)
				if _, err2 := d.ReadElement(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				return
			}
			checkRoundTrip(t, e, lim.MaxDepth)
		}
	})
}

func FuzzParseElement(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`<?xml version='1.0'?><a xmlns='urn:a'/>`))
	lim := Limits{MaxStanzaBytes: 4096, MaxDepth: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseElement(data, lim)
		if err != nil {
			checkErr(t, err)
			return
		}
		checkRoundTrip(t, e, lim.MaxDepth)
	})
}
