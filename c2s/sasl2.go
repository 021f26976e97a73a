package c2s

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"sort"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0388 (Extensible SASL Profile), XEP-0386 (Bind 2)
// and XEP-0484 (FAST).
const (
	NSSASL2 = "urn:xmpp:sasl:2"
	NSBind2 = "urn:xmpp:bind:0"
	NSFast  = "urn:xmpp:fast:0"
)

// maxTagBytes bounds the client's Bind 2 tag kept in the resource.
const maxTagBytes = 64

// sasl2Feature offers XEP-0388 authentication with mechs, Bind 2 with
// the features a bind request may enable inline (XEP-0386 §2.1), and
// FAST with the mechanisms fast (XEP-0484 §3).
func (st *stream) sasl2Feature(mechs *xmlstream.Element, fast []string) *xmlstream.Element {
	a := xmlstream.NewElement(NSSASL2, "authentication")
	for _, m := range mechs.ChildElements() {
		a.AddChild(xmlstream.NewElement(NSSASL2, "mechanism").AddText(m.Text()))
	}
	inline := xmlstream.NewElement(NSBind2, "inline")
	for _, ns := range st.srv.bind2Features() {
		inline.AddChild(xmlstream.NewElement(NSBind2, "feature", "var", ns))
	}
	bind := xmlstream.NewElement(NSBind2, "bind").AddChild(inline)
	inlines := xmlstream.NewElement(NSSASL2, "inline").AddChild(bind)
	if st.srv.cfg.ResumeTimeout > 0 {
		inlines.AddChild(smFeature) // resumption inside <authenticate/>
	}
	if len(fast) > 0 {
		f := xmlstream.NewElement(NSFast, "fast")
		for _, m := range fast {
			f.AddChild(xmlstream.NewElement(NSFast, "mechanism").AddText(m))
		}
		inlines.AddChild(f)
	}
	return a.AddChild(inlines)
}

// bind2Features lists the features a Bind 2 request may enable: stream
// management, client state indication, and Config.BindFeatures.
func (srv *Server) bind2Features() []string {
	fs := []string{NSSM, NSCSI}
	for ns := range srv.cfg.BindFeatures {
		fs = append(fs, ns)
	}
	sort.Strings(fs[2:])
	return fs
}

// authenticate2 runs XEP-0388 authentication started by <authenticate/>.
// On success without a Bind 2 request it sends <success/> and the
// features of the authenticated stream, which goes on without a restart;
// with one it binds a resource and returns the new session, whose first
// frames are <success/> with <bound/> and the features. On failure it
// has sent <failure/>, and err is set only when the stream must end.
func (st *stream) authenticate2(ctx context.Context, el *xmlstream.Element) (*Session, error) {
	initial := ""
	if ir := el.Child(NSSASL2, "initial-response"); ir != nil {
		initial = ir.Text()
	}
	agent := ""
	if ua := el.Child(NSSASL2, "user-agent"); ua != nil {
		agent = ua.Attr("id")
	}
	mech := el.Attr("mechanism")
	var (
		final []byte
		renew bool
		made  *auth.Token
		ok    bool
		err   error
	)
	if auth.IsFastMechanism(mech) {
		final, renew, made, ok, err = st.tokenLogin(ctx, el, mech, initial, agent)
	} else {
		final, ok, err = st.exchange(ctx, NSSASL2, mech, initial)
	}
	if !ok {
		return nil, err
	}
	success := xmlstream.NewElement(NSSASL2, "success")
	if len(final) > 0 {
		success.AddChild(xmlstream.NewElement(NSSASL2, "additional-data").AddText(base64.StdEncoding.EncodeToString(final)))
	}
	if token := st.newToken(ctx, el, agent, mech, renew, made); token != nil {
		success.AddChild(token)
	}
	if r := el.Child(NSSM, "resume"); r != nil {
		// XEP-0198 inline (XEP-0388 §2.6.1): resumed, the session goes on
		// and a bind request is ignored; failed, the failure is told in
		// <success/> and binding goes ahead.
		sess, failed, err := st.resumeWith(r, func(full jid.JID, resumed *xmlstream.Element) [][]byte {
			return st.succeeded(success, full.String(), boundFeatures(st, true), resumed)
		})
		if err != nil {
			return nil, st.fail(err)
		}
		if sess != nil {
			return sess, nil
		}
		success.AddChild(failed)
	}
	req := el.Child(NSBind2, "bind")
	if req == nil {
		return nil, st.t.Write(st.succeeded(success, st.username+"@"+st.domain, st.features())...)
	}
	return st.bind2(ctx, req, agent, success)
}

// bind2 binds the resource a Bind 2 request asks for (XEP-0386 §2.2),
// enables the features it names, and returns the held session with
// success, completed with the full JID and <bound/> (with Config.Bound's
// element), and the stream features queued first.
func (st *stream) bind2(ctx context.Context, req *xmlstream.Element, agent string, success *xmlstream.Element) (*Session, error) {
	tag := ""
	if t := req.Child(NSBind2, "tag"); t != nil {
		tag = t.Text()
	}
	full, id, err := bind2Resource(st.username, st.domain, tag, agent)
	if err != nil {
		return nil, st.fail(&streamError{"internal-server-error", "no resource could be made"})
	}
	if st.srv.router.Revoked(full.Bare(), st.loggedIn) {
		// As bind: what <bound/> tells of the account is not for it.
		return nil, st.fail(errRevoked)
	}
	sess := newSession(st.srv, st.t, full, st.lang)
	bound := xmlstream.NewElement(NSBind2, "bound")
	var smID string
	for _, f := range req.ChildElements() {
		switch {
		case f.Name.Space == NSSM && f.Name.Local == "enable":
			// The session is not shared yet: no lock is needed. Asked
			// twice, it answers the second time with <failed/>.
			enabled, id := sess.startSMLocked(f.Attr("resume") == "true" || f.Attr("resume") == "1", f.Attr("max"))
			if enabled == nil {
				enabled = smFailedElement("unexpected-request", 0, false)
			} else {
				smID = id
			}
			bound.AddChild(enabled)
		case f.Name.Space == NSCSI && f.Name.Local == "inactive":
			sess.csi.inactive = true
		case f.Name.Local == "enable" && st.srv.cfg.BindFeatures[f.Name.Space] != nil:
			st.onBound = append(st.onBound, st.srv.cfg.BindFeatures[f.Name.Space])
		}
	}
	if smID != "" {
		st.srv.remember(smID, sess)
	}
	if info := st.srv.cfg.Bound; info != nil {
		el, err := info(ctx, full.Bare())
		switch {
		case err != nil:
			st.log.Error("c2s: what Bind 2 tells of the account", "jid", full.String(), "err", err)
		case el != nil:
			bound.AddChild(el)
		}
	}
	for _, f := range st.succeeded(success, full.String(), boundFeatures(st, sess.sm.enabled), bound) {
		sess.queue = append(sess.queue, outItem{frame: f})
	}
	st.readerDone = sess.readerDone
	if agent != "" {
		st.clientID = id
	}
	st.log.Info("c2s bound", "remote", st.t.RemoteAddr(), "jid", full.String(), "bind", "XEP-0386")
	return sess, nil
}

// succeeded completes success with the authorization identifier id (a
// bare JID, or a full one once bound or resumed) and then results, and
// returns it and the features that follow it (XEP-0388 §2.6.1), as two
// frames: a WebSocket message carries one element.
func (st *stream) succeeded(success *xmlstream.Element, id string, features []*xmlstream.Element, results ...*xmlstream.Element) [][]byte {
	success.AddChild(xmlstream.NewElement(NSSASL2, "authorization-identifier").AddText(id))
	for _, r := range results {
		success.AddChild(r)
	}
	return [][]byte{success.Append(nil, ""), st.streamElement("features", features...)}
}

// boundFeatures are the features of a stream whose session SASL2 bound
// or resumed: the session's own, roster versioning and pre-approval
// among them (RFC 6121 §2.6.1, §3.4: these are the only features such a
// client sees after authenticating), with stream management only while
// it is off (a client seeing it again would enable or resume a second
// time).
func boundFeatures(st *stream, smOn bool) []*xmlstream.Element {
	features := []*xmlstream.Element{rosterVerFeature, preApprovalFeature}
	if !smOn {
		features = append(features, smFeature)
	}
	return append(features, csiFeature, st.limitsFeature())
}

// bind2Resource makes the full JID of a Bind 2 session: the client's tag,
// '/', and id, an identifier that is the same for every login of one
// client (a hash of its user agent id, which stays unseen) or else random
// (XEP-0386 §2.2.1). Binding the same resource again ends the client's
// earlier session, and so does binding with another tag
// (endEarlierOfClient).
func bind2Resource(user, domain, tag, agent string) (full jid.JID, id string, err error) {
	id = strings.ToLower(stanza.NewID())
	if agent != "" {
		sum := sha256.Sum256([]byte(user + "@" + domain + "\x00" + agent))
		id = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
	}
	if tag = strings.TrimSpace(tag); tag != "" && len(tag) <= maxTagBytes {
		if full, err := jid.New(user, domain, tag+"/"+id); err == nil {
			return full, id, nil
		}
	}
	full, err = jid.New(user, domain, id)
	return full, id, err
}

// endEarlierOfClient ends, with conflict, the sessions of the account of
// sess, which a Bind 2 request bound for the client with identifier id
// (bind2Resource), that the same client bound before under another tag,
// on any node: the server SHOULD end a client's earlier sessions when it
// binds anew (XEP-0386 §2.2). One under the same tag had the same
// resource, which binding ended already.
func (srv *Server) endEarlierOfClient(sess *Session, id string) {
	for _, s := range srv.router.SessionsOf(sess.jid.Bare()) {
		res := s.JID().Resourcepart()
		if s != router.Session(sess) && (res == id || strings.HasSuffix(res, "/"+id)) {
			s.End("conflict", "the same client bound another session")
		}
	}
}
