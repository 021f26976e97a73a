package pie

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// userFunc is given each <user/> of a served host that a file holds.
type userFunc func(ctx context.Context, res *Result, host string, user *xmlstream.Element) error

// file reads the document at path, included (depth deep) from inside
// host, or from above the hosts when host is "", and hands each of its
// users to each.
func (im *Importer) file(ctx context.Context, res *Result, path, host string, depth int, each userFunc) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pie: %w", err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	stack := []openElement{{host: host}}
	for {
		at := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pie: parse %s: %w", path, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("pie: parse %s: a DTD or directive is not XEP-0227 data", path)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.StartElement:
			in := stack[len(stack)-1].host
			switch {
			case t.Name.Space == nsInclude && t.Name.Local == "include":
				err = im.include(ctx, res, filepath.Dir(path), attr(t, "href"), attr(t, "parse"), attr(t, "xpointer"), in, depth, each)
			case t.Name.Space != NS && t.Name.Space != NSOld:
				res.note("skipped <%s xmlns='%s'>: not XEP-0227 data", t.Name.Local, t.Name.Space)
			case t.Name.Local == "server-data" && in == "":
				stack = append(stack, openElement{el: t})
				continue
			case t.Name.Local == "host":
				h, err := jid.Parse(attr(t, "jid"))
				if err != nil || !slices.Contains(im.Hosts, h.Domainpart()) || h.Localpart() != "" || h.Resourcepart() != "" {
					res.note("skipped host %q: not a host served here (%v)", attr(t, "jid"), im.Hosts)
					break
				}
				stack = append(stack, openElement{el: t, host: h.Domainpart()})
				continue
			case t.Name.Local == "user" && in == "":
				res.note("skipped user %q outside a host", attr(t, "name"))
			case t.Name.Local == "user":
				if err := d.Skip(); err != nil {
					return fmt.Errorf("pie: parse %s: %w", path, err)
				}
				user, err := parseUser(data[at:d.InputOffset()], stack)
				if err != nil {
					return fmt.Errorf("pie: parse %s: %w", path, err)
				}
				if err := each(ctx, res, in, user); err != nil {
					return err
				}
				continue
			default:
				res.note("skipped <%s/>", t.Name.Local)
			}
			if err != nil {
				return err
			}
			if err := d.Skip(); err != nil {
				return fmt.Errorf("pie: parse %s: %w", path, err)
			}
		}
	}
}

// include imports the file an XInclude <include/> names, from inside
// host, as the XEP requires; only a local href without xpointer is
// followed, maxIncludeDepth deep at most.
func (im *Importer) include(ctx context.Context, res *Result, dir, href, parse, xpointer, host string, depth int, each userFunc) error {
	if !filepath.IsLocal(filepath.FromSlash(href)) || parse != "" && parse != "xml" || xpointer != "" || depth >= maxIncludeDepth {
		res.note("skipped an include of %q: only hrefs within the file's directory, without xpointer, %d deep at most, are followed", href, maxIncludeDepth)
		return nil
	}
	return im.file(ctx, res, filepath.Join(dir, filepath.FromSlash(href)), host, depth+1, each)
}

// openElement is an element the reader is in, with the host it names or
// is inside ("" above the hosts).
type openElement struct {
	el   xml.StartElement
	host string
}

// parseUser parses the <user/> whose bytes are raw, inside the open
// elements, whose namespace declarations it inherits.
func parseUser(raw []byte, open []openElement) (*xmlstream.Element, error) {
	decls := map[string]string{} // attribute name → namespace; inner ones win
	for _, o := range open {
		for _, a := range o.el.Attr {
			switch {
			case a.Name.Space == "" && a.Name.Local == "xmlns":
				decls["xmlns"] = a.Value
			case a.Name.Space == "xmlns":
				decls["xmlns:"+a.Name.Local] = a.Value
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("<inherited")
	for _, name := range slices.Sorted(maps.Keys(decls)) {
		b.WriteString(" " + name + "='" + escape(decls[name]) + "'")
	}
	b.WriteString(">")
	b.Write(raw)
	b.WriteString("</inherited>")
	el, err := xmlstream.ParseElement(b.Bytes(), xmlstream.Limits{MaxStanzaBytes: b.Len() + 1, MaxDepth: 256})
	if err != nil {
		return nil, err
	}
	return el.FirstChildElement(), nil
}

// attr returns the value of el's attribute local, without namespace.
func attr(el xml.StartElement, local string) string {
	for _, a := range el.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
