package caps

import (
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"

	"xmppd/dataform"
	"xmppd/xmlstream"
)

// verification returns the XEP-0115 §5.1 verification string of a
// disco#info answer with the SHA-1 hash, the only one every client
// offers: identities, features and extended forms, each sorted, each
// part ended by '<', hashed and encoded in base64. ok is false for an
// answer that §5.4 says must not be trusted: a feature or identity given
// twice, two forms with one FORM_TYPE, or a FORM_TYPE with differing
// values. A form whose FORM_TYPE is not hidden is left out.
func verification(info *xmlstream.Element) (ver string, ok bool) {
	var identities, features []string
	var forms []dataform.Form
	var types []string // FORM_TYPEs of all forms, hidden or not
	for _, c := range info.ChildElements() {
		switch {
		case c.Name.Space == NSInfo && c.Name.Local == "identity":
			identities = append(identities, c.Attr("category")+"/"+c.Attr("type")+"/"+c.Lang()+"/"+c.Attr("name"))
		case c.Name.Space == NSInfo && c.Name.Local == "feature":
			features = append(features, c.Attr("var"))
		case c.Name.Space == dataform.NS && c.Name.Local == "x":
			f := dataform.Parse(c)
			if ft := f.FormType(); ft != "" {
				types = append(types, ft)
			}
			switch formType(f) {
			case ignored:
			case illFormed:
				return "", false
			default:
				forms = append(forms, f)
			}
		}
	}
	sort.Strings(types)
	sort.Strings(identities)
	sort.Strings(features)
	sort.Slice(forms, func(i, j int) bool { return forms[i].FormType() < forms[j].FormType() })
	if repeats(identities) || repeats(features) || repeats(types) {
		return "", false
	}
	var s strings.Builder
	for _, id := range identities {
		s.WriteString(id + "<")
	}
	for _, f := range features {
		s.WriteString(f + "<")
	}
	for _, f := range forms {
		s.WriteString(f.FormType() + "<")
		fields := append([]dataform.Field(nil), f.Fields...)
		sort.Slice(fields, func(i, j int) bool { return fields[i].Var < fields[j].Var })
		for _, fd := range fields {
			if fd.Var == "FORM_TYPE" {
				continue
			}
			s.WriteString(fd.Var + "<")
			values := append([]string(nil), fd.Values...)
			sort.Strings(values)
			for _, v := range values {
				s.WriteString(v + "<")
			}
		}
	}
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:]), true
}

// What formType returns for a form to leave out, and for one that makes
// the whole answer ill-formed.
const (
	ignored   = ""
	illFormed = "\x00"
)

// formType returns the FORM_TYPE of an extended information form (§5.4):
// ignored for a form without one, or whose FORM_TYPE field is not
// hidden; illFormed for a FORM_TYPE with differing values.
func formType(f dataform.Form) string {
	fd, ok := f.Field("FORM_TYPE")
	if !ok || fd.Type != "hidden" || len(fd.Values) == 0 {
		return ignored
	}
	for _, v := range fd.Values[1:] {
		if v != fd.Values[0] {
			return illFormed
		}
	}
	return fd.Values[0]
}

// repeats reports whether the sorted list has an entry twice.
func repeats(sorted []string) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return true
		}
	}
	return false
}
