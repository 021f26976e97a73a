// Package fulltext splits message text into the words that full-text
// search (XEP-0431) indexes and looks for, the same way for both, so that
// a search finds exactly the messages that contain its words.
//
// Text is first normalised (NFKC, full Unicode case folding, NFKC
// again), so that canonically equivalent text (é typed as one character
// or as e and a combining accent), compatibility forms (full-width
// letters, ligatures such as ﬁ) and case variants beyond lowercasing
// (ß and SS, final and medial sigma) index and search alike.
// A word is then a run of letters, digits and combining marks, lowercased.
// Scripts written without spaces between words (Han, kana, Hangul, Thai,
// Lao, Khmer, Myanmar) are indexed as every single character and every
// pair of neighbouring characters (bigrams), so a search for any
// substring of two or more such characters is a phrase of bigrams, and a
// search for one character is that character. No stemming and no stop
// words: the same rules serve every language.
package fulltext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxPosition is the last word position indexed; words further into a
// message are not indexed (PostgreSQL positions stop at 16383).
const MaxPosition = 16383

// maxWordBytes bounds one indexed word; longer runs (base64, hashes,
// URLs without separators) are cut to this many bytes.
const maxWordBytes = 100

// Term is one indexed word and its position (from 1) in the text.
// Characters of scripts without spaces yield two terms per position: the
// character, and the character with its right neighbour.
type Term struct {
	Word string
	Pos  int
}

// Terms returns the terms of text in order of position.
func Terms(text string) []Term {
	var terms []Term
	pos := 0
	forEachRun(normalize(text), func(run []rune, dense bool) bool {
		if dense {
			for i := range run {
				pos++
				if pos > MaxPosition {
					return false
				}
				terms = append(terms, Term{string(run[i]), pos})
				if i+1 < len(run) {
					terms = append(terms, Term{string(run[i : i+2]), pos})
				}
			}
			return true
		}
		pos++
		if pos > MaxPosition {
			return false
		}
		terms = append(terms, Term{word(run), pos})
		return true
	})
	return terms
}

// Phrase returns the terms a search for text must find at these
// distances from each other, in order: the words of text, with runs of
// scripts without spaces as their bigrams (or the single character).
// Positions start at 1; a run of n such characters spans n positions but
// has n-1 bigrams, so the word after it is two positions after its last
// bigram.
func Phrase(text string) []Term { return phrase(normalize(text)) }

// phrase is Phrase without normalising text, as xmppd indexed text
// before it normalised it (see Part).
func phrase(text string) []Term {
	var terms []Term
	pos := 0
	forEachRun(text, func(run []rune, dense bool) bool {
		switch {
		case !dense:
			terms = append(terms, Term{word(run), pos + 1})
		case len(run) == 1:
			terms = append(terms, Term{string(run), pos + 1})
		default:
			for i := 0; i+1 < len(run); i++ {
				terms = append(terms, Term{string(run[i : i+2]), pos + 1 + i})
			}
		}
		if dense {
			pos += len(run)
		} else {
			pos++
		}
		return true
	})
	return terms
}

// forEachRun calls f with each run of word characters in text, lowercased,
// and whether it is of a script without spaces, until f returns false.
func forEachRun(text string, f func(run []rune, dense bool) bool) {
	var run []rune
	runDense := false
	flush := func() bool {
		if len(run) == 0 {
			return true
		}
		ok := f(run, runDense)
		run = run[:0]
		return ok
	}
	for _, r := range text {
		if !isWordRune(r) {
			if !flush() {
				return
			}
			continue
		}
		d := isDense(r)
		if len(run) > 0 && d != runDense && !unicode.Is(unicode.Mn, r) {
			if !flush() {
				return
			}
		}
		if len(run) == 0 {
			runDense = d
		}
		run = append(run, unicode.ToLower(r))
	}
	flush()
}

// normalize returns text in the form whose words are indexed: NFKC,
// then full case folding, then NFKC again, because folding can leave
// text unnormalised (Unicode 3.13, D146 and UAX #44 NFKC_Casefold; the
// removal of default ignorable characters is left out). ASCII text is
// returned as it is: forEachRun lowercases it, which for ASCII is all
// that folding does.
func normalize(text string) string {
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(text)))
		}
	}
	return text
}

// word returns run as a string of at most maxWordBytes bytes.
func word(run []rune) string {
	s := string(run)
	if len(s) <= maxWordBytes {
		return s
	}
	s = s[:maxWordBytes]
	return strings.ToValidUTF8(s, "")
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// dense are the scripts written without spaces between words.
var dense = []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
	unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar}

func isDense(r rune) bool {
	return r >= 0x0E00 && unicode.In(r, dense...)
}
