package c2s

import (
	"context"
	"errors"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// resume handles <resume previd h/> on an authenticated stream before
// binding (XEP-0198 §5). It returns the resumed session, or nil after
// answering <failed/> so that the client may bind a new one.
//
// A session of another account is not found, as an unknown id is: the
// answer does not tell that the id exists. A session whose connection is
// still attached is taken over: the old connection is closed.
func (st *stream) resume(el *xmlstream.Element) (*Session, error) {
	s, failed, err := st.resumeWith(el, nil)
	switch {
	case err != nil:
		return nil, st.fail(err)
	case s != nil:
		return s, nil
	}
	return nil, st.t.Write(failed.Append(nil, ""))
}

// resumeWith resumes the session <resume/> names and returns it, its
// first frames made by first from its JID and <resumed/> (nil: <resumed/>
// alone); or it returns the <failed/> to answer; or, when h acknowledges
// more stanzas than the session sent, or when the stream's login was
// revoked, the stream error to end the stream with (XEP-0198 §4),
// leaving the session as it was.
func (st *stream) resumeWith(el *xmlstream.Element, first func(full jid.JID, resumed *xmlstream.Element) [][]byte) (*Session, *xmlstream.Element, error) {
	h, ok := parseH(el)
	if !ok {
		return nil, smFailedElement("bad-request", 0, false), nil
	}
	account := st.username + "@" + st.domain
	if bare, err := jid.Parse(account); err != nil || st.srv.router.Revoked(bare, st.loggedIn) {
		// A login the account's password change or removal revoked
		// takes over no session, as it binds none.
		return nil, nil, errRevoked
	}
	s, ts, found := st.srv.lookupResumable(el.Attr("previd"))
	switch {
	case s != nil && s.jid.Bare().String() == account:
		done, err := s.attach(st.t, h, first)
		switch {
		case err == nil:
			st.readerDone, st.resumed = done, true
			st.log.Info("c2s resumed", "remote", st.t.RemoteAddr(), "jid", s.jid.String())
			return s, nil, nil
		case !errors.Is(err, errGone):
			return nil, nil, err
		}
		// Ending or ended: the session has the count, also before it
		// leaves the table for its tombstone.
		_, handled := s.resumption()
		return nil, smFailedElement("item-not-found", handled, true), nil
	case s == nil && found && ts.account == account:
		return nil, smFailedElement("item-not-found", ts.handled, true), nil
	case !found && st.srv.cfg.Elsewhere != nil:
		// Perhaps it waits on another node: ended there now, it routes
		// what it held before the client binds anew.
		ctx, cancel := context.WithTimeout(context.Background(), elsewhereTimeout)
		handled, found := st.srv.cfg.Elsewhere.EndResumable(ctx, el.Attr("previd"), account)
		cancel()
		if found {
			st.log.Info("c2s resumption: ended the session on another node", "remote", st.t.RemoteAddr(), "account", account)
			return nil, smFailedElement("item-not-found", handled, true), nil
		}
	}
	return nil, smFailedElement("item-not-found", 0, false), nil
}

// elsewhereTimeout bounds the wait for another node to end a session.
const elsewhereTimeout = 5 * time.Second
