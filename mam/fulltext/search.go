package fulltext

import (
	"slices"
	"strings"
	"unicode"
)

// Search is a parsed full-text search: every part of Include must occur
// in a message and none of Exclude.
type Search struct {
	Include, Exclude []Part
}

// Part is one word or "quoted phrase" of a search. Terms is its phrase
// (see Phrase): terms that must occur at these distances from each
// other; most phrases are one word. Unnormalized is the phrase as
// xmppd indexed messages before it normalised text, nil where that is
// the same as Terms (always, for ASCII): rows archived then keep their
// terms, so a search looks for either phrase and finds them as it did.
type Part struct {
	Terms, Unnormalized []Term
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
		p := Part{Terms: Phrase(part)}
		if old := phrase(part); !slices.Equal(old, p.Terms) {
			p.Unnormalized = old
		}
		switch {
		case len(p.Terms) == 0:
		case exclude:
			s.Exclude = append(s.Exclude, p)
		default:
			s.Include = append(s.Include, p)
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
