package xmlstream

import (
	"encoding/xml"
	"strings"
	"testing"
)

// TestNameTables checks the name character tables against encoding/xml,
// whose names the decoder accepted before it had its own tokenizer.
func TestNameTables(t *testing.T) {
	accepts := func(s string) bool {
		_, err := xml.NewDecoder(strings.NewReader(s)).RawToken()
		return err == nil
	}
	step := rune(1)
	for r := rune(0x80); r <= 0x10FFFF; r += step {
		if r == 0x10000 && testing.Short() {
			break
		}
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		if r >= 0x10000 {
			step = 7 // the tables stop at the end of the BMP; sample the rest
		}
		if got, want := isNameStart(r), accepts("<"+string(r)+"/>"); got != want {
			t.Errorf("isNameStart(%U) = %v, encoding/xml %v", r, got, want)
		}
		if got, want := isNameChar(r), accepts("<a"+string(r)+"/>"); got != want {
			t.Errorf("isNameChar(%U) = %v, encoding/xml %v", r, got, want)
		}
	}
}

func TestTokenizerDifferences(t *testing.T) {
	tests := []struct {
		name, input, cond string
	}{
		// encoding/xml decodes these as U+FFFD.
		{"surrogate reference", `<a>&#xD800;</a>`, CondNotWellFormed},
		{"surrogate reference in attribute", `<a b='&#57343;'/>`, CondNotWellFormed},
		// encoding/xml reports the version before the restriction.
		{"late declaration with bad version", `<a><?xml version='2.0'?></a>`, CondRestrictedXML},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseElement([]byte(tt.input), Limits{})
			if c := condition(err); c != tt.cond {
				t.Errorf("error %v, want condition %q", err, tt.cond)
			}
		})
	}
}
