package mam

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
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

// Request is a parsed archive query (XEP-0313 §4), as ParseQuery
// returns it; package muc parses room archive queries with it too.
type Request struct {
	Query
	// NS is NS or NS1: the namespace of the query, and of the answer.
	NS string
	// QueryID is the query's queryid, repeated in every result.
	QueryID string
	// Flip is XEP-0313 flip-page: send the page newest first.
	Flip bool
	// Index is set when the RSM set asked for the page at index 0, the
	// first (XEP-0059 §2.6): <first/> then carries index='0'.
	Index bool
}

// QueryError is a bad query: the stanza error condition and its text.
type QueryError struct{ Condition, Text string }

func (e *QueryError) Error() string { return e.Condition + ": " + e.Text }

func badRequest(text string) error { return &QueryError{stanza.BadRequest, text} }

// handleQuery answers an archive query (XEP-0313 §4): the matching page
// goes to the querying session only, then the IQ result with <fin/>.
func (m *Module) handleQuery(ctx context.Context, iq router.IQ) *xmlstream.Element {
	if !iq.To.Bare().Equal(iq.From.Bare()) {
		return iq.Error(stanza.Forbidden, "only the account itself may read its archive")
	}
	q, err := ParseQuery(iq.Payload, m.cfg.MaxPage)
	var qe *QueryError
	if errors.As(err, &qe) {
		return iq.Error(qe.Condition, qe.Text)
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
	if q.Flip {
		order = slices.Clone(order)
		slices.Reverse(order)
	}
	owner := iq.To.Bare().String()
	for _, msg := range order {
		orig, err := parseStored(msg.Stanza)
		if err != nil {
			m.cfg.Logger.Error("reading an archived message", "jid", owner, "id", msg.ID, "err", err)
			return iq.Error(stanza.InternalServerError, "")
		}
		res := ResultMessage(q.NS, owner, iq.From, q.QueryID, msg.ID, msg.Stamp, orig)
		if !m.r.DeliverToSession(iq.From, res) {
			return iq.Error(stanza.ResourceConstraint, "the session does not take the results")
		}
	}
	return iq.Result(q.fin(page))
}

// ResultMessage is the message that carries the archived message orig,
// with archive id id and stamp, from the archive to the querying session
// to (XEP-0313 §4.2), in the namespace ns of the query.
func ResultMessage(ns, archive string, to jid.JID, queryID string, id int64, stamp time.Time, orig *xmlstream.Element) *xmlstream.Element {
	fwd := xmlstream.NewElement(NSForward, "forwarded").
		AddChild(xmlstream.NewElement(NSDelay, "delay", "stamp", stamp.UTC().Format(stampLayout))).
		AddChild(orig)
	res := xmlstream.NewElement(ns, "result", "queryid", queryID, "id", strconv.FormatInt(id, 10)).AddChild(fwd)
	return xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", archive, "to", to.String(), "id", stanza.NewID()).AddChild(res)
}

// fin is the IQ result's payload for page.
func (q Request) fin(page Page) *xmlstream.Element {
	var first, last int64
	if n := len(page.Messages); n > 0 {
		first, last = page.Messages[0].ID, page.Messages[n-1].ID
	}
	return q.Fin(first, last, page.Complete)
}

// Fin is the IQ result's payload for the answer to q (see the function
// Fin), with the index of <first/> when q asked for one.
func (q Request) Fin(first, last int64, complete bool) *xmlstream.Element {
	f := Fin(q.NS, first, last, complete)
	if q.Index && first != 0 {
		f.Child(NSRSM, "set").Child(NSRSM, "first").SetAttr("index", "0")
	}
	return f
}

// Fin is the IQ result's payload for a page whose oldest message has the
// archive id first and whose newest has last (both 0 for an empty page),
// in the query's namespace ns; complete is true when nothing further
// matches in the query's direction.
func Fin(ns string, first, last int64, complete bool) *xmlstream.Element {
	set := xmlstream.NewElement(NSRSM, "set")
	if first != 0 {
		set.AddChild(xmlstream.NewElement(NSRSM, "first").AddText(strconv.FormatInt(first, 10)))
		set.AddChild(xmlstream.NewElement(NSRSM, "last").AddText(strconv.FormatInt(last, 10)))
	}
	return xmlstream.NewElement(ns, "fin", "complete", strconv.FormatBool(complete)).AddChild(set)
}

// ParseQuery reads the form (XEP-0313 §4.1), the RSM set (XEP-0059) and
// flip-page of a <query/> in namespace NS or NS1; pages hold at most
// maxPage messages. Errors are *QueryError. 'with' is split into the bare
// JID and the resource, whatever the archive makes of them.
func ParseQuery(el *xmlstream.Element, maxPage int) (Request, error) {
	q := Request{NS: el.Name.Space, QueryID: el.Attr("queryid"), Query: Query{Max: maxPage}}
	q.Flip = el.Child(q.NS, "flip-page") != nil
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

func (q *Request) parseForm(x *xmlstream.Element) error {
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
			if value != q.NS {
				err = badRequest("the form's FORM_TYPE must be " + q.NS)
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
			err = &QueryError{stanza.FeatureNotImplemented, "unknown form field " + f.Attr("var")}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (q *Request) parseWith(value string) error {
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

func (q *Request) parseRSM(set *xmlstream.Element, maxPage int) error {
	if m := set.Child(NSRSM, "max"); m != nil {
		n, err := parseMax(m.Text())
		if err != nil {
			return err
		}
		q.Max = min(n, maxPage)
	}
	if i := set.Child(NSRSM, "index"); i != nil {
		if err := q.parseIndex(set, i.Text()); err != nil {
			return err
		}
	}
	if a := set.Child(NSRSM, "after"); a != nil {
		id, err := parseID(a.Text())
		if err != nil {
			return err
		}
		if q.AfterID == 0 || id > q.AfterID {
			q.AfterID = id
		}
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

// parseIndex reads an RSM <index/> (XEP-0059 §2.6). Archives are paged
// by id: finding the message at an index would count every message
// before it, so only index 0, the first page, is served; any other, or
// an index beside <after/> or <before/>, is feature-not-implemented
// rather than a page that is not the one asked for.
func (q *Request) parseIndex(set *xmlstream.Element, index string) error {
	if strings.TrimSpace(index) != "0" || set.Child(NSRSM, "after") != nil || set.Child(NSRSM, "before") != nil {
		return &QueryError{stanza.FeatureNotImplemented, "pages are asked for by id (RSM after or before), not by index"}
	}
	q.Index = true
	return nil
}

// parseMax reads an RSM <max/>, an XML Schema integer (XEP-0059 §2.1):
// spaces around it are allowed, and a number too large for an int is
// as large as any page, which the caller caps.
func parseMax(s string) (int, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 63)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, badRequest("RSM max must be a non-negative number")
	}
	return int(min(n, math.MaxInt)), nil
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
	if t.IsZero() {
		// 0001-01-01T00:00:00Z is a date, not "no date" (the zero
		// Query.Start or Query.End): a microsecond earlier (stamps have
		// no finer precision) bounds every message the same way.
		t = t.Add(-time.Microsecond)
	}
	return t, nil
}

// parseID reads an archive id. Ids are opaque to clients, so one that
// cannot be ours is one the archive does not hold: item-not-found, as
// XEP-0313 §4.1.3 and §4.3.2 require for unknown ids. Imported history
// has negative ids; 0 is none.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id == 0 {
		return 0, &QueryError{stanza.ItemNotFound, "no message " + strconv.Quote(s) + " in the archive"}
	}
	return id, nil
}

// handleForm returns the query form with the supported fields (XEP-0313
// §4.1.5).
func (m *Module) handleForm(ctx context.Context, iq router.IQ) *xmlstream.Element {
	return iq.Result(QueryForm(iq.Payload.Name.Space))
}

// QueryForm is the <query/> in namespace ns that lists the fields a query
// may use (XEP-0313 §4.1.5): those ParseQuery reads.
func QueryForm(ns string) *xmlstream.Element {
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
	return xmlstream.NewElement(ns, "query").AddChild(x)
}
