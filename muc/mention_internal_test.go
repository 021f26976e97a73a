package muc

import "testing"

// writesWord finds a nick only where neither a letter nor a digit
// touches it.
func TestWritesWord(t *testing.T) {
	for _, c := range []struct {
		text, word string
		want       bool
	}{
		{"romeo", "romeo", true},
		{"@romeo: hi", "romeo", true},
		{"hi romeo!", "romeo", true},
		{"romeos", "romeo", false},
		{"aromeo", "romeo", false},
		{"romeo2", "romeo", false},
		{"romeos and romeo", "romeo", true}, // a later occurrence counts
		{"éromeo", "romeo", false},
		{"ça, roméo", "roméo", true},
		{"jul cap", "jul cap", true},
		{"", "romeo", false},
	} {
		if got := writesWord(c.text, c.word); got != c.want {
			t.Errorf("writesWord(%q, %q) = %v, want %v", c.text, c.word, got, c.want)
		}
	}
}
