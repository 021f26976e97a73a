package xmlstream

import (
	"strings"
	"testing"
)

// RFC 6120 §11.6: a peer that sends XML in an encoding other than UTF-8
// gets a stream error that SHOULD be <unsupported-encoding/>, whether it
// says so in the XML declaration or just sends UTF-16.
func TestNonUTF8EncodingIsUnsupportedEncoding(t *testing.T) {
	utf16 := func(s string, bom bool) string {
		var b strings.Builder
		if bom {
			b.WriteString("\xfe\xff")
		}
		for _, c := range []byte(s) {
			b.WriteByte(0)
			b.WriteByte(c)
		}
		return b.String()
	}
	for name, input := range map[string]string{
		"declared latin-1":  `<?xml version='1.0' encoding='ISO-8859-1'?>` + testHeader,
		"declared UTF-16":   `<?xml version='1.0' encoding='UTF-16'?>` + testHeader,
		"UTF-16 with BOM":   utf16(testHeader, true),
		"UTF-16BE, no BOM":  utf16(testHeader, false),
		"UTF-16LE with BOM": "\xff\xfe<\x00s\x00",
		"UTF-16LE, no BOM":  "<\x00s\x00t\x00r\x00",
	} {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(input), Limits{})
			_, err := d.ReadHeader()
			if c := condition(err); c != "unsupported-encoding" {
				t.Errorf("ReadHeader error = %v, want unsupported-encoding", err)
			}
		})
	}
	// A UTF-8 BOM is U+FEFF, a character (RFC 6120 §11.6): text before
	// the header, as before.
	d := NewDecoder(strings.NewReader("\xef\xbb\xbf"+testHeader), Limits{})
	if _, err := d.ReadHeader(); condition(err) != CondNotWellFormed {
		t.Errorf("UTF-8 BOM: %v, want not-well-formed", err)
	}
}
