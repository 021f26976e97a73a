package fulltext

import (
	"strings"
	"unicode"
)

// Search is a parsed full-text search: every phrase of Include must occur
// in a message and none of Exclude. A phrase (see Phrase) is a list of
// terms that must occur at these distances from each other; most phrases
// are one word.
type Search struct {
	Include, Exclude [][]Term
}

// Parse reads a search as people type it into a search box: words (all
// must occur), "quoted phrases" (next to each other, in order) and words
// or phrases after a '-' (must not occur). Any white space separates
// them: input methods of Chinese and Japanese type the ideographic space
// (U+3000), phones and pasted text no-break spaces. Punctuation separates
// words, as in the messages. Words and phrases are split exactly as Terms
// splits text, so a search for any part of a message that Terms indexed
// finds it.
func Parse(text string) Search {
	var s Search
	for text != "" {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
		exclude := strings.HasPrefix(text, "-")
		if exclude {
			text = text[1:]
		}
		var part string
		if rest, ok := strings.CutPrefix(text, `"`); ok {
			part, text, _ = strings.Cut(rest, `"`)
		} else {
			end := strings.IndexFunc(text, unicode.IsSpace)
			if end < 0 {
				end = len(text)
			}
			part, text = text[:end], text[end:]
		}
		words := Phrase(part)
		switch {
		case len(words) == 0:
		case exclude:
			s.Exclude = append(s.Exclude, words)
		default:
			s.Include = append(s.Include, words)
		}
	}
	return s
}

// Empty reports whether s has nothing that a message must contain: a
// search of no words, or only of words that must not occur, which would
// match nearly every message.
func (s Search) Empty() bool {
	return len(s.Include) == 0
}
