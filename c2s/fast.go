package c2s

import (
	"context"
	"slices"
	"time"

	"xmppd/auth"
	"xmppd/xmlstream"
)

// tokenLogin runs a FAST login (XEP-0484 §4.4): the <authenticate/> el
// with the HT mechanism mech, the initial response initial (base64) and
// the user agent id agent. It returns as exchange does, renew when the
// client is due a new token, and the new token that replaces an
// invalidated one when el requested one (XEP-0484 §3.6), or nil.
func (st *stream) tokenLogin(ctx context.Context, el *xmlstream.Element, mech, initial, agent string) (final []byte, renew bool, replacement *auth.Token, ok bool, err error) {
	response, err := decodeSASL(initial)
	if err != nil {
		return nil, false, nil, false, st.authFailed(NSSASL2, mech, "", err)
	}
	invalidate := false
	if f := el.Child(NSFast, "fast"); f != nil {
		invalidate = f.Attr("invalidate") == "true" || f.Attr("invalidate") == "1"
	}
	request := ""
	if req := el.Child(NSFast, "request-token"); req != nil {
		request = req.Attr("mechanism")
	}
	began := time.Now() // before the tokens are read, as in exchange
	res, err := st.srv.auth.LoginWithToken(ctx, auth.TokenLogin{
		Mechanism:  mech,
		Domain:     st.domain,
		Agent:      agent,
		Response:   response,
		Invalidate: invalidate,
		Request:    request,
		Conn:       st.connectionState(),
		Remote:     st.t.RemoteAddr(),
	})
	if err != nil {
		return nil, false, nil, false, st.authFailed(NSSASL2, mech, "", err)
	}
	st.grant = res.Grant
	st.authenticated(res.Username, mech, began)
	return res.Final, res.Renew, res.Token, true, nil
}

// newToken returns the <token/> for the <success/> of the <authenticate/>
// el (XEP-0484 §4.2, §4.5): made, when not nil, the login's replacement
// of an invalidated token (tokenLogin); else a new token when el requests
// one or renew is set (bound to the requested mechanism, else to mech),
// or nil. Without a user agent id, or for a mechanism not offered, there
// is none; a token that cannot be stored is left out and logged, the
// login going on.
func (st *stream) newToken(ctx context.Context, el *xmlstream.Element, agent, mech string, renew bool, made *auth.Token) *xmlstream.Element {
	if made != nil {
		return tokenElement(*made)
	}
	if req := el.Child(NSFast, "request-token"); req != nil {
		mech, renew = req.Attr("mechanism"), true
	}
	if !renew || agent == "" || !slices.Contains(st.srv.auth.FastMechanisms(st.connectionState()), mech) {
		return nil
	}
	t, err := st.srv.auth.NewToken(ctx, st.domain, st.username, agent, mech, st.grant)
	if err != nil {
		st.log.Error("c2s: FAST token", "jid", st.username+"@"+st.domain, "err", err)
		return nil
	}
	return tokenElement(t)
}

// tokenElement is the <token/> that gives the client t.
func tokenElement(t auth.Token) *xmlstream.Element {
	return xmlstream.NewElement(NSFast, "token", "expiry", t.Expiry.UTC().Format(time.RFC3339), "token", t.Secret)
}
