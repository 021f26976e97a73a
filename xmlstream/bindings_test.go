package xmlstream

import (
	"fmt"
	"strings"
	"testing"
)

// Every element and prefixed attribute is resolved by a linear search of
// the namespace declarations in scope, and every declaration is checked
// against the element's others. Unbounded, a 256 KiB stanza of thousands
// of declarations and thousands of empty elements took seconds of CPU
// (about 2.8 s; 5.5 s with the declarations on the stream header, where
// they stay in scope for every later stanza), against milliseconds
// normally. Too many declarations in scope are a policy-violation.
func TestManyNamespaceDeclarationsArePolicyViolation(t *testing.T) {
	decls := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, " xmlns:p%d='urn:%d'", i, i)
		}
		return b.String()
	}
	t.Run("stanza", func(t *testing.T) {
		_, err := readAll(t, testHeader+"<message"+decls(5000)+"><a/><a/></message>", Limits{})
		if c := condition(err); c != CondPolicyViolation {
			t.Errorf("error = %v, want policy-violation", err)
		}
	})
	t.Run("nested", func(t *testing.T) {
		in := "<message" + decls(100) + "><x" + strings.Replace(decls(100), "xmlns:p", "xmlns:q", -1) + "/></message>"
		_, err := readAll(t, testHeader+in, Limits{})
		if c := condition(err); c != CondPolicyViolation {
			t.Errorf("error = %v, want policy-violation", err)
		}
	})
	t.Run("header", func(t *testing.T) {
		h := strings.Replace(testHeader, "<stream:stream", "<stream:stream"+decls(5000), 1)
		d := NewDecoder(strings.NewReader(h), Limits{})
		if _, err := d.ReadHeader(); condition(err) != CondPolicyViolation {
			t.Errorf("ReadHeader error = %v, want policy-violation", err)
		}
	})
	t.Run("ParseElement", func(t *testing.T) {
		_, err := ParseElement([]byte("<message xmlns='jabber:client'"+decls(5000)+"/>"), Limits{})
		if c := condition(err); c != CondPolicyViolation {
			t.Errorf("error = %v, want policy-violation", err)
		}
	})
	t.Run("a few are fine", func(t *testing.T) {
		if _, err := ParseElement([]byte("<message xmlns='jabber:client'"+decls(20)+"><x"+decls(20)+"/></message>"), Limits{}); err != nil {
			t.Error(err)
		}
	})
}
