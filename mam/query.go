package mam

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"
	"xmppd/mam/fulltext"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// fulltextField is the XEP-0431 form field.
const fulltextField = "{" + NSFulltext + "}fulltext"

// query is a parsed archive query.
type query struct {
	Query
	ns   string // NS or NS1: the namespace of the answer
	id   string // queryid
	flip bool   // XEP-0313 flip-page: send the page newest first
}

// queryError is a stanza error for a bad query.
type queryError struct{ condition, text string }

func (e *queryError) Error() string { return e.condition + ": " + e.text }

func badRequest(text string) error { return &queryError{stanza.BadRequest, text} }

// handleQuery answers an archive query (XEP-0313 §4): the matching page
// goes to the querying session only, then the IQ result with <fin/>.
func (m *Module) handleQuery(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.To.Bare().Equal(iq.From.Bare()) {
		return iq.Error(stanza.Forbidden, "only the account itself may read its archive")
	}
	q, err := parseQuery(iq.Payload, m.cfg.MaxPage)
	var qe *queryError
	if errors.As(err, &qe) {
		return iq.Error(qe.condition, qe.text)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	page, err := m.cfg.Store.Query(ctx, iq.To.Domainpart(), iq.To.Localpart(), q.Query)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return iq.Error(stanza.ItemNotFound, "no such message in the archive")
	case err != nil:
		m.cfg.Logger.Error("querying an archive", "jid", iq.From.String(), "err", err)
		return iq.Error(stanza.InternalServerError, "")
	}
	order := page.Messages
	if q.flip {
		order = slices.Clone(order)
		slices.Reverse(order)
	}
	owner := iq.To.Bare().String()
	for _, msg := range order {
		res, err := m.result(q.ns, owner, iq.From, q.id, msg)
		if err != nil {
			m.cfg.Logger.Error("reading an archived message", "jid", owner, "id", msg.ID, "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		if !m.r.DeliverToSession(iq.From, res) {
			return iq.Error(stanza.ResourceConstraint, "the session does not take the results")
		}
	}
	return iq.Result(fin(q.ns, page))
}

// result wraps an archived message for the session to (XEP-0313 §4.2),
// in the namespace ns of the query.
func (m *Module) result(ns, owner string, to jid.JID, queryID string, msg Message) (*xmlstream.Element, error) {
	orig, err := parseStored(msg.Stanza)
	if err != nil {
		return nil, err
	}
	fwd := xmlstream.NewElement(NSForward, "forwarded").
		AddChild(xmlstream.NewElement(NSDelay, "delay", "stamp", msg.Stamp.UTC().Format(stampLayout))).
		AddChild(orig)
	res := xmlstream.NewElement(ns, "result", "queryid", queryID, "id", strconv.FormatInt(msg.ID, 10)).AddChild(fwd)
	return xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", owner, "to", to.String(), "id", stanza.NewID()).AddChild(res), nil
}

// fin is the IQ result's payload for page, in the query's namespace ns.
func fin(ns string, page Page) *xmlstream.Element {
	set := xmlstream.NewElement(NSRSM, "set")
	if n := len(page.Messages); n > 0 {
		set.AddChild(xmlstream.NewElement(NSRSM, "first").AddText(strconv.FormatInt(page.Messages[0].ID, 10)))
		set.AddChild(xmlstream.NewElement(NSRSM, "last").AddText(strconv.FormatInt(page.Messages[n-1].ID, 10)))
	}
	return xmlstream.NewElement(ns, "fin", "complete", strconv.FormatBool(page.Complete)).AddChild(set)
}

// parseQuery reads the form (XEP-0313 §4.1), the RSM set (XEP-0059) and
// flip-page of a <query/>; errors are *queryError.
func parseQuery(el *xmlstream.Element, maxPage int) (query, error) {
	q := query{ns: el.Name.Space, id: el.Attr("queryid"), Query: Query{Max: maxPage}}
	q.flip = el.Child(q.ns, "flip-page") != nil
	if x := el.Child(NSData, "x"); x != nil {
		if err := q.parseForm(x); err != nil {
			return q, err
		}
	}
	if set := el.Child(NSRSM, "set"); set != nil {
		if err := q.parseRSM(set, maxPage); err != nil {
			return q, err
		}
	}
	return q, nil
}

func (q *query) parseForm(x *xmlstream.Element) error {
	for _, f := range x.ChildElements() {
		if f.Name.Space != NSData || f.Name.Local != "field" {
			continue
		}
		var values []string
		for _, v := range f.ChildElements() {
			if v.Name.Space == NSData && v.Name.Local == "value" && v.Text() != "" {
				values = append(values, v.Text())
			}
		}
		value := ""
		if len(values) > 0 {
			value = values[0]
		}
		var err error
		switch f.Attr("var") {
		case "FORM_TYPE":
			if value != q.ns {
				err = badRequest("the form's FORM_TYPE must be " + q.ns)
			}
		case "with":
			err = q.parseWith(value)
		case "start":
			q.Start, err = parseTime(value)
		case "end":
			q.End, err = parseTime(value)
		case "after-id":
			q.AfterID, err = parseID(value)
		case "before-id":
			q.BeforeID, err = parseID(value)
		case "ids":
			for _, v := range values {
				id, perr := parseID(v)
				if perr != nil {
					return perr
				}
				q.IDs = append(q.IDs, id)
			}
			if q.IDs == nil {
				q.IDs = []int64{}
			}
		case fulltextField:
			q.Text = value
			if value != "" && fulltext.Parse(value).Empty() {
				err = badRequest("the full-text search has no word that messages must contain")
			}
		default:
			err = &queryError{stanza.FeatureNotImplemented, "unknown form field " + f.Attr("var")}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (q *query) parseWith(value string) error {
	if value == "" {
		return nil
	}
	j, err := jid.Parse(value)
	if err != nil {
		return badRequest("'with' is not a JID")
	}
	q.With, q.WithResource = j.Bare().String(), j.Resourcepart()
	return nil
}

func (q *query) parseRSM(set *xmlstream.Element, maxPage int) error {
	if m := set.Child(NSRSM, "max"); m != nil {
		n, err := strconv.Atoi(m.Text())
		if err != nil || n < 0 {
			return badRequest("RSM max must be a non-negative number")
		}
		q.Max = min(n, maxPage)
	}
	if a := set.Child(NSRSM, "after"); a != nil {
		id, err := parseID(a.Text())
		if err != nil {
			return err
		}
		q.AfterID = max(q.AfterID, id)
	}
	if b := set.Child(NSRSM, "before"); b != nil {
		q.Last = true
		if b.Text() != "" {
			id, err := parseID(b.Text())
			if err != nil {
				return err
			}
			if q.BeforeID == 0 || id < q.BeforeID {
				q.BeforeID = id
			}
		}
	}
	return nil
}

// parseTime reads a XEP-0082 DateTime.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, badRequest("not a XEP-0082 DateTime: " + s)
	}
	return t, nil
}

// parseID reads an archive id. Ids are opaque to clients, so one that
// cannot be ours is one the archive does not hold: item-not-found, as
// XEP-0313 §4.1.3 and §4.3.2 require for unknown ids.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &queryError{stanza.ItemNotFound, "no message " + strconv.Quote(s) + " in the archive"}
	}
	return id, nil
}

// handleForm returns the query form with the supported fields (XEP-0313
// §4.1.5).
func (m *Module) handleForm(ctx context.Context, iq router.IQ) *xmlstream.Element {
	ns := iq.Payload.Name.Space
	x := xmlstream.NewElement(NSData, "x", "type", "form")
	x.AddChild(xmlstream.NewElement(NSData, "field", "type", "hidden", "var", "FORM_TYPE").
		AddChild(xmlstream.NewElement(NSData, "value").AddText(ns)))
	for _, f := range [][2]string{{"jid-single", "with"}, {"text-single", "start"}, {"text-single", "end"},
		{"text-single", "before-id"}, {"text-single", "after-id"}, {"list-multi", "ids"}, {"text-single", fulltextField}} {
		field := xmlstream.NewElement(NSData, "field", "type", f[0], "var", f[1])
		if f[1] == "ids" {
			field.AddChild(xmlstream.NewElement("http://jabber.org/protocol/xdata-validate", "validate", "datatype", "xs:string").
				AddChild(xmlstream.NewElement("http://jabber.org/protocol/xdata-validate", "open")))
		}
		x.AddChild(field)
	}
	return iq.Result(xmlstream.NewElement(ns, "query").AddChild(x))
}
