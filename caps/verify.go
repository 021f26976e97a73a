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
// twice, or two forms with one FORM_TYPE.
func verification(info *xmlstream.Element) (ver string, ok bool) {
	var identities, features []string
	var forms []dataform.Form
	for _, c := range info.ChildElements() {
		switch {
		case c.Name.Space == NSInfo && c.Name.Local == "identity":
			identities = append(identities, c.Attr("category")+"/"+c.Attr("type")+"/"+c.Lang()+"/"+c.Attr("name"))
		case c.Name.Space == NSInfo && c.Name.Local == "feature":
			features = append(features, c.Attr("var"))
		case c.Name.Space == dataform.NS && c.Name.Local == "x":
			if f := dataform.Parse(c); f.FormType() != "" {
				forms = append(forms, f)
			}
		}
	}
	sort.Strings(identities)
	sort.Strings(features)
	sort.Slice(forms, func(i, j int) bool { return forms[i].FormType() < forms[j].FormType() })
	if repeats(identities) || repeats(features) {
		return "", false
	}
	var s strings.Builder
	for _, id := range identities {
		s.WriteString(id + "<")
	}
	for _, f := range features {
		s.WriteString(f + "<")
	}
	for i, f := range forms {
		if i > 0 && forms[i-1].FormType() == f.FormType() {
			return "", false
		}
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

// repeats reports whether the sorted list has an entry twice.
func repeats(sorted []string) bool {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return true
		}
	}
	return false
}
