package postgres

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"xmppd/mam/fulltext"
)

// The archive's text index holds, for every message, the words of its
// body (package fulltext) prefixed with a short tag of the archive's
// owner: "k3x9q1:hello". A search looks up only the owner's own words, so
// a rare word costs a lookup of that account's few messages with it,
// whatever the size of the table, without a GIN index that includes the
// owner (which would need the btree_gin extension, i.e. a superuser).
// Tags of two accounts may collide; the query's owner condition keeps
// the answer exact, a collision only costs rechecks.

// maxTermBytes bounds the distinct words of one message's tsvector,
// under PostgreSQL's 1 MB limit for one tsvector.
const maxTermBytes = 512 << 10

// maxPositions is the most positions PostgreSQL keeps for one word of a
// tsvector (MAXNUMPOS); a tsvector with more is refused, and with it the
// whole batch of messages being archived.
const maxPositions = 256

// ownerTag returns the prefix of username@domain's words in the index.
func ownerTag(domain, username string) string { return tagOf(domain, username) }

// roomTag returns the prefix of the words of the room name@service in
// the index of room archives (muc_messages). It differs from every
// account's tag of the same two strings, though the tables are apart.
func roomTag(service, name string) string { return tagOf("muc", service, name) }

// tagOf returns a short hash of parts, separated by NUL, and a colon.
func tagOf(parts ...string) string {
	h := fnv.New32a()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return strconv.FormatUint(uint64(h.Sum32()), 36) + ":"
}

// ArchiveTerms returns the terms column of a message with body in the
// archive of username@domain: its words, tagged with the owner, each
// with its positions. It is not Valid (NULL) when body has no words.
// Tools that fill the archive without the store (cmd/mamfill) use it.
func ArchiveTerms(domain, username, body string) pgtype.TSVector {
	return taggedTerms(ownerTag(domain, username), body)
}

// RoomTerms is ArchiveTerms for a message of the room name@service.
func RoomTerms(service, name, body string) pgtype.TSVector {
	return taggedTerms(roomTag(service, name), body)
}

// taggedTerms returns the tsvector of body's words, each prefixed by tag.
func taggedTerms(tag, body string) pgtype.TSVector {
	terms := fulltext.Terms(body)
	if len(terms) == 0 {
		return pgtype.TSVector{}
	}
	at := map[string]int{} // word → index in lexemes
	var lexemes []pgtype.TSVectorLexeme
	size := 0
	for _, t := range terms {
		i, ok := at[t.Word]
		if !ok {
			if size += len(tag) + len(t.Word); size > maxTermBytes {
				break
			}
			i = len(lexemes)
			at[t.Word] = i
			lexemes = append(lexemes, pgtype.TSVectorLexeme{Word: tag + t.Word})
		}
		// Terms come in order of position, so positions stay sorted.
		if len(lexemes[i].Positions) < maxPositions {
			lexemes[i].Positions = append(lexemes[i].Positions, pgtype.TSVectorPosition{Position: uint16(t.Pos)})
		}
	}
	// PostgreSQL keeps lexemes sorted bytewise, as Go compares strings.
	slices.SortFunc(lexemes, func(a, b pgtype.TSVectorLexeme) int { return strings.Compare(a.Word, b.Word) })
	return pgtype.TSVector{Lexemes: lexemes, Valid: true}
}

// taggedQuery returns the text of the tsquery for s among the words
// prefixed by tag. A part with an unnormalised form matches either
// form, so that rows archived before text was normalised are found.
func taggedQuery(tag string, s fulltext.Search) string {
	var b strings.Builder
	phrase := func(terms []fulltext.Term) {
		b.WriteByte('(')
		for i, t := range terms {
			if i > 0 {
				b.WriteString(" <" + strconv.Itoa(t.Pos-terms[i-1].Pos) + "> ")
			}
			quoteLexeme(&b, tag+t.Word)
		}
		b.WriteByte(')')
	}
	part := func(p fulltext.Part) {
		if p.Unnormalized == nil {
			phrase(p.Terms)
			return
		}
		b.WriteByte('(')
		phrase(p.Terms)
		b.WriteString(" | ")
		phrase(p.Unnormalized)
		b.WriteByte(')')
	}
	for i, p := range s.Include {
		if i > 0 {
			b.WriteString(" & ")
		}
		part(p)
	}
	for _, p := range s.Exclude {
		b.WriteString(" & !")
		part(p)
	}
	return b.String()
}

// quoteLexeme writes lex as a quoted lexeme of tsvector or tsquery text.
func quoteLexeme(b *strings.Builder, lex string) {
	b.WriteByte('\'')
	for _, r := range lex {
		switch r {
		case '\'', '\\':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
}
