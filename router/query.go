package router

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// ErrQueryFailed is returned by Query when the entity answered with an
// IQ error.
var ErrQueryFailed = errors.New("the entity answered with an error")

// QueryError is the IQ error an entity answered a Query with (RFC 6120
// §8.3); it matches ErrQueryFailed with errors.Is.
type QueryError struct {
	Type      string // cancel, continue, modify, auth or wait
	Condition string // the defined condition, such as item-not-found
}

func (e *QueryError) Error() string {
	return ErrQueryFailed.Error() + ": " + e.Condition + " (" + e.Type + ")"
}

// Is makes QueryError match ErrQueryFailed.
func (e *QueryError) Is(target error) bool { return target == ErrQueryFailed }

// queryError reads the error of the IQ a.
func queryError(a *xmlstream.Element) *QueryError {
	qe := &QueryError{Condition: "undefined-condition"}
	if e := a.Child("", "error"); e != nil {
		qe.Type = e.Attr("type")
		for _, c := range e.ChildElements() {
			if c.Name.Space == stanza.NSStanzas && c.Name.Local != "text" {
				qe.Condition = c.Name.Local
				break
			}
		}
	}
	return qe
}

// pendingQuery is an IQ the server sent and whose answer it waits for.
type pendingQuery struct {
	to     string // the full address asked, which alone may answer
	answer chan *xmlstream.Element
}

// Query sends the IQ get or set payload from the server's address from (a
// served domain or an account's bare JID) to to, and returns the answer's
// payload (nil for an empty result). It returns a *QueryError, which
// matches ErrQueryFailed, for an IQ error, and ctx's error when no answer
// came in time; only to itself can answer.
func (r *Router) Query(ctx context.Context, typ string, from, to jid.JID, payload *xmlstream.Element) (*xmlstream.Element, error) {
	iq := xmlstream.NewElement(stanza.NSClient, stanza.IQ, "type", typ, "from", from.String(), "to", to.String())
	iq.AddChild(payload)
	a, err := r.Exchange(ctx, iq)
	switch {
	case err != nil:
		return nil, err
	case stanza.IsError(a):
		return nil, queryError(a)
	}
	return a.FirstChildElement(), nil
}

// Exchange routes iq, an IQ get or set from an address the server
// answers for (a served domain or an account's bare JID), with an id of
// the router's own in place of iq's, and returns the answer, result or
// error, as it came; ctx's error when none came in time. Only iq's 'to'
// can answer.
func (r *Router) Exchange(ctx context.Context, iq *xmlstream.Element) (*xmlstream.Element, error) {
	id := stanza.NewID()
	q := pendingQuery{to: iq.Attr("to"), answer: make(chan *xmlstream.Element, 1)}
	r.queriesMu.Lock()
	r.queries[id] = q
	r.queriesMu.Unlock()
	defer func() {
		r.queriesMu.Lock()
		delete(r.queries, id)
		r.queriesMu.Unlock()
	}()
	iq = iq.Copy()
	iq.SetAttr("id", id)
	r.Route(ctx, iq)
	select {
	case a := <-q.answer:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// answered hands an IQ result or error to the Query waiting for it, if
// one is. An answer from anyone but the asked address is not taken, so
// nobody can answer for another.
func (r *Router) answered(from jid.JID, st *xmlstream.Element) {
	id := st.Attr("id")
	r.queriesMu.Lock()
	q, ok := r.queries[id]
	if ok && q.to == from.String() {
		delete(r.queries, id)
	} else {
		ok = false
	}
	r.queriesMu.Unlock()
	if ok {
		q.answer <- st
	}
}
