package c2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of stream negotiation (RFC 6120 §5, §6, §7, XEP-0440).
const (
	NSTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession   = "urn:ietf:params:xml:ns:xmpp-session"
	NSStreamErr = "urn:ietf:params:xml:ns:xmpp-streams"
	NSSASLCB    = "urn:xmpp:sasl-cb:0"
	NSRegister  = "jabber:iq:register"
	NSPreauth   = "urn:xmpp:pars:0"
)

// maxAuthFailures is how many failed SASL attempts one stream may make
// before it is closed with policy-violation (RFC 6120 §6.4.5).
const maxAuthFailures = 3

// streamError is a condition that ends the stream (RFC 6120 §4.9.3).
type streamError struct {
	condition string
	text      string
}

func (e *streamError) Error() string { return "stream error " + e.condition + ": " + e.text }

// appStreamError is a stream error with an application-specific
// condition element (RFC 6120 §4.9.4), such as XEP-0198's
// <handled-count-too-high/>.
type appStreamError struct {
	streamError
	app *xmlstream.Element
}

func (e *appStreamError) Unwrap() error { return &e.streamError }

// streamApp returns the application-specific condition of the stream
// error err, or nil.
func streamApp(err error) *xmlstream.Element {
	var ae *appStreamError
	if errors.As(err, &ae) {
		return ae.app
	}
	return nil
}

// stream is one client connection from its first byte to resource binding.
type stream struct {
	srv      *Server
	t        Transport
	log      *slog.Logger
	id       string
	opened   bool   // our stream header was sent
	domain   string // the host the client asked for
	lang     string
	username string    // set by SASL
	loggedIn time.Time // when its login began (authenticated)
	// grant is what the login proved, which a FAST token made for it
	// must not outlive.
	grant    auth.Grant
	failures int
	// readerDone is closed when the reader of the bound or resumed
	// session's connection returns.
	readerDone chan struct{}
	resumed    bool
	// onBound enables, once the router knows the session, what a Bind 2
	// request asked for (Config.BindFeatures).
	onBound []func(session jid.JID)
	// clientID identifies, in the resource a Bind 2 request bound, the
	// client by its user agent id; "" without one (bind2Resource).
	clientID string
	// cs is the connection state registered for ServerCertificate
	// (connectionState).
	cs *tls.ConnectionState
}

// negotiate runs RFC 6120 stream negotiation on t up to and including
// resource binding or stream resumption (XEP-0198), and returns the bound
// or resumed session. On failure it has sent the stream error (if any) and
// the caller closes the connection.
func (st *stream) negotiate(ctx context.Context) (sess *Session, resumed bool, err error) {
	st.t.SetMaxStanzaBytes(st.maxStanzaBytes())
	for {
		if err := st.open(); err != nil {
			return nil, false, err
		}
		restart, sess, err := st.step(ctx)
		if err != nil {
			return nil, false, err
		}
		if sess != nil {
			return sess, st.resumed, nil
		}
		if restart {
			st.t.Restart()
		}
	}
}

// open reads a stream header, answers it and sends the stream features.
func (st *stream) open() error {
	st.opened = false
	h, err := st.t.ReadHeader()
	if err != nil {
		return st.fail(err)
	}
	first := st.id == ""
	st.id = stanza.NewID()
	if first {
		st.lang = h.Lang
		if st.lang == "" {
			st.lang = "en"
		}
	}
	host := streamHost(h.To)
	switch {
	case host == "" || !st.srv.router.IsLocal(host):
		return st.fail(&streamError{"host-unknown", "this server does not serve " + h.To})
	case st.domain != "" && host != st.domain:
		return st.fail(&streamError{"host-unknown", "the restarted stream must be for the same host"})
	case !supportedVersion(h.Version):
		return st.fail(&streamError{"unsupported-version", "only XMPP version 1.0 is supported"})
	}
	st.domain = host
	st.opened = true
	return st.t.WriteHeader(st.id, st.domain, headerTo(h.From), st.lang, st.streamElement("features", st.features()...))
}

// supportedVersion reports whether version, a stream header's, is 1.x:
// two numbers, compared as numbers, with leading zeros ignored (RFC 6120
// §4.7.5). No version at all means 0.9.
func supportedVersion(version string) bool {
	major, minor, ok := strings.Cut(version, ".")
	return ok && isDigits(minor) && isDigits(major) && strings.TrimLeft(major, "0") == "1"
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// streamHost is the host a stream header's 'to' names, in the form the
// router knows hosts by: lower case, without the final dot that RFC 7622
// §3.2 says is not part of a domain.
func streamHost(to string) string {
	return strings.TrimSuffix(strings.ToLower(to), ".")
}

// headerTo is the 'to' of the response to a stream header whose 'from'
// is from: its bare JID (RFC 6120 §4.7.2), or none when the client gave
// no valid JID.
func headerTo(from string) string {
	j, err := jid.Parse(from)
	if err != nil {
		return ""
	}
	return j.Bare().String()
}

// RFC 6121 roster versioning (§2.6.1) and subscription pre-approval
// (§3.4): offered on every stream that binds or resumes a session, by
// RFC 6120 binding or by Bind 2.
var (
	rosterVerFeature   = xmlstream.NewElement("urn:xmpp:features:rosterver", "ver")
	preApprovalFeature = xmlstream.NewElement("urn:xmpp:features:pre-approval", "sub")
)

// features lists what the client may negotiate next.
func (st *stream) features() []*xmlstream.Element {
	secure := st.t.Secure()
	if !secure && st.username == "" && st.srv.tlsConfig != nil && st.t.CanStartTLS() {
		tls := xmlstream.NewElement(NSTLS, "starttls")
		if st.srv.cfg.RequireTLS {
			tls.AddChild(xmlstream.NewElement(NSTLS, "required"))
		}
		if st.srv.cfg.RequireTLS {
			return []*xmlstream.Element{tls, st.limitsFeature()}
		}
		return append([]*xmlstream.Element{tls, st.limitsFeature()}, st.saslFeatures()...)
	}
	if st.username == "" {
		features := append(st.saslFeatures(), st.limitsFeature())
		if reg := st.srv.cfg.Registrar; reg != nil && (secure || !st.srv.cfg.RequireTLS) {
			features = append(features, reg.Features()...)
		}
		return features
	}
	session := xmlstream.NewElement(NSSession, "session")
	session.AddChild(xmlstream.NewElement(NSSession, "optional"))
	return []*xmlstream.Element{
		xmlstream.NewElement(NSBind, "bind"),
		session,
		rosterVerFeature,
		preApprovalFeature,
		smFeature,
		csiFeature,
		st.limitsFeature(),
	}
}

func (st *stream) saslFeatures() []*xmlstream.Element {
	cs := st.connectionState()
	mechs := xmlstream.NewElement(NSSASL, "mechanisms")
	for _, m := range st.srv.auth.Mechanisms(cs) {
		mechs.AddChild(xmlstream.NewElement(NSSASL, "mechanism").AddText(m))
	}
	out := []*xmlstream.Element{mechs}
	if len(mechs.ChildElements()) > 0 {
		out = append(out, st.sasl2Feature(mechs, st.srv.auth.FastMechanisms(cs)))
	}
	if cbs := st.srv.auth.ChannelBindings(cs); len(cbs) > 0 {
		cb := xmlstream.NewElement(NSSASLCB, "sasl-channel-binding")
		for _, typ := range cbs {
			cb.AddChild(xmlstream.NewElement(NSSASLCB, "channel-binding", "type", typ))
		}
		out = append(out, cb)
	}
	return out
}

// step handles elements of one stream until it restarts (restart true),
// ends in a bound session, or fails.
func (st *stream) step(ctx context.Context) (restart bool, sess *Session, err error) {
	for {
		el, err := st.t.ReadElement()
		if err != nil {
			return false, nil, st.fail(err)
		}
		switch {
		case el.Name.Space == NSTLS && el.Name.Local == "starttls":
			return true, nil, st.startTLS()
		case (el.Name.Space == NSSASL && el.Name.Local == "auth") || (el.Name.Space == NSSASL2 && el.Name.Local == "authenticate"):
			if st.username != "" {
				return false, nil, st.fail(&streamError{"policy-violation", "already authenticated"})
			}
			if !st.t.Secure() && st.srv.cfg.RequireTLS {
				if err := st.saslFailure(el.Name.Space, "encryption-required", "this connection is not encrypted"); err != nil {
					return false, nil, err
				}
				continue
			}
			if el.Name.Space == NSSASL2 {
				// No restart: the stream goes on, bound or not.
				sess, err := st.authenticate2(ctx, el)
				if err != nil || sess != nil {
					return false, sess, err
				}
				continue
			}
			ok, err := st.authenticate(ctx, el)
			if err != nil || ok {
				return ok, nil, err
			}
		case el.Name.Space == stanza.NSClient && el.Name.Local == stanza.IQ && st.username != "":
			sess, err := st.bind(el)
			if err != nil || sess != nil {
				return false, sess, err
			}
		case el.Name.Space == NSSM && el.Name.Local == "resume" && st.username != "":
			sess, err := st.resume(el)
			if err != nil || sess != nil {
				return false, sess, err
			}
		case el.Name.Space == NSSM && el.Name.Local == "enable" && st.username != "":
			// XEP-0198 §3: only after resource binding.
			if err := st.t.Write(smFailed("unexpected-request", 0, false)); err != nil {
				return false, nil, err
			}
		case st.isRegistration(el):
			if bad, err := st.invalidIQ(el); bad || err != nil {
				if err != nil {
					return false, nil, err
				}
				continue
			}
			reply := st.srv.cfg.Registrar.HandleIQ(ctx, st.domain, st.t.RemoteAddr(), st.t.Secure(), el)
			if reply != nil {
				if err := st.t.Write(reply.Append(nil, st.t.Namespace())); err != nil {
					return false, nil, err
				}
			}
		case stanza.IsStanza(el, stanza.NSClient):
			return false, nil, st.fail(&streamError{"not-authorized", "authenticate and bind a resource first"})
		case isStreamError(el):
			st.log.Info("c2s stream error from the client", "remote", st.t.RemoteAddr(), "condition", streamErrorCondition(el))
			return false, nil, st.fail(xmlstream.ErrStreamEnd)
		default:
			return false, nil, st.fail(&streamError{"unsupported-stanza-type", "unexpected element {" + el.Name.Space + "}" + el.Name.Local})
		}
	}
}

// isRegistration reports whether el is an in-band registration IQ that an
// unauthenticated client may send (XEP-0077 §3), or the XEP-0445 preauth
// IQ that gives the invitation for one, with a registrar and the stream
// encrypted if TLS is required.
func (st *stream) isRegistration(el *xmlstream.Element) bool {
	if st.srv.cfg.Registrar == nil || st.username != "" || (st.srv.cfg.RequireTLS && !st.t.Secure()) {
		return false
	}
	if el.Name.Space != stanza.NSClient || el.Name.Local != stanza.IQ {
		return false
	}
	q := el.FirstChildElement()
	return q != nil && (q.Name.Space == NSRegister && q.Name.Local == "query" ||
		q.Name.Space == NSPreauth && q.Name.Local == "preauth")
}

func (st *stream) startTLS() error {
	if st.t.Secure() || st.srv.tlsConfig == nil {
		return st.fail(&streamError{"policy-violation", "STARTTLS is not available"})
	}
	if st.username != "" {
		return st.fail(&streamError{"policy-violation", "STARTTLS comes before authentication"})
	}
	if err := st.t.Write([]byte("<proceed xmlns='" + NSTLS + "'/>")); err != nil {
		return err
	}
	if err := st.t.StartTLS(st.srv.tlsConfig); err != nil {
		st.log.Info("c2s tls failed", "err", err)
		return err
	}
	return nil
}

// authenticate runs one SASL exchange started by <auth/> (RFC 6120 §6.4).
// It returns true on success, when the stream must restart.
func (st *stream) authenticate(ctx context.Context, authEl *xmlstream.Element) (bool, error) {
	mech := authEl.Attr("mechanism")
	final, ok, err := st.exchange(ctx, NSSASL, mech, authEl.Text())
	if !ok {
		return false, err
	}
	return true, st.t.Write(saslElement(NSSASL, "success", final))
}

// exchange runs the challenges and responses of one SASL exchange with
// mechanism mech, in the namespace ns of RFC 6120's profile (NSSASL) or
// of XEP-0388's (NSSASL2), from the client's initial response (base64;
// none and "=" both mean empty). On success it records the user and
// returns the mechanism's final data for the caller's success element;
// on failure it has sent the failure, and err is set only when the
// stream must end.
func (st *stream) exchange(ctx context.Context, ns, mech, initial string) (final []byte, ok bool, err error) {
	// The login counts from before the credentials are read: a password
	// change or an account removal meanwhile revokes it (Router.Revoked).
	began := time.Now()
	ex, err := st.srv.auth.Start(ctx, mech, st.domain, st.connectionState(), st.t.RemoteAddr())
	if err != nil {
		return nil, false, st.authFailed(ns, mech, "", err)
	}
	// No initial response and an empty one ("=") both start the exchange
	// with empty data; the mechanism answers with an empty challenge.
	data, err := decodeSASL(initial)
	if err != nil {
		return nil, false, st.authFailed(ns, mech, "", err)
	}
	for {
		out, done, err := ex.Step(ctx, data)
		if err != nil {
			return nil, false, st.authFailed(ns, mech, ex.Username(), err)
		}
		if done {
			st.grant = ex.Grant()
			st.authenticated(ex.Username(), mech, began)
			return out, true, nil
		}
		if err := st.t.Write(saslElement(ns, "challenge", out)); err != nil {
			return nil, false, err
		}
		if data, err = st.readResponse(ns); err != nil {
			return nil, false, st.authFailed(ns, mech, ex.Username(), err)
		}
	}
}

// authenticated records that the stream's user is username, by mech,
// with credentials read no earlier than began: the login time that
// Router.Revoked compares with revocations.
func (st *stream) authenticated(username, mech string, began time.Time) {
	st.srv.logins.ok.Add(1)
	st.username, st.loggedIn = username, began
	st.t.SetMaxStanzaBytes(st.maxStanzaBytes())
	st.log.Info("c2s auth ok", "remote", st.t.RemoteAddr(), "jid", st.username+"@"+st.domain, "mechanism", mech)
}

// errRevoked ends a stream whose login was revoked before it bound a
// resource: its account was deleted, or its password changed.
var errRevoked = &streamError{"not-authorized", "the login is no longer valid"}

// errAborted is the client's <abort/>.
var errAborted = &auth.Failure{Condition: "aborted"}

// readResponse reads the client's next <response/> in the namespace ns.
func (st *stream) readResponse(ns string) ([]byte, error) {
	el, err := st.t.ReadElement()
	if err != nil {
		return nil, st.fail(err)
	}
	switch {
	case el.Name.Space == ns && el.Name.Local == "response":
		return decodeSASL(el.Text())
	case el.Name.Space == ns && el.Name.Local == "abort":
		return nil, errAborted
	}
	return nil, st.fail(&streamError{"policy-violation", "expected a SASL response"})
}

// authFailed sends the SASL failure for err in the namespace ns, or
// passes a stream-ending error through. Too many failures end the stream.
func (st *stream) authFailed(ns, mech, user string, err error) error {
	var f *auth.Failure
	if !errors.As(err, &f) {
		return err
	}
	st.log.Info("c2s auth failed", "remote", st.t.RemoteAddr(), "user", user, "domain", st.domain, "mechanism", mech, "condition", f.Condition, "text", f.Text)
	if f.Condition != "aborted" {
		st.failures++
		st.srv.logins.failed.Add(1)
	}
	if err := st.saslFailure(ns, f.Condition, f.Text); err != nil {
		return err
	}
	if st.failures >= maxAuthFailures {
		return st.fail(&streamError{"policy-violation", "too many failed authentication attempts"})
	}
	return nil
}

// saslFailure sends <failure/> in the namespace ns; the condition is
// always one of RFC 6120's (XEP-0388 §2.6.2).
func (st *stream) saslFailure(ns, condition, text string) error {
	f := xmlstream.NewElement(ns, "failure")
	f.AddChild(xmlstream.NewElement(NSSASL, condition))
	if text != "" {
		f.AddChild(xmlstream.NewElement(ns, "text").AddText(text))
	}
	return st.t.Write(f.Append(nil, ""))
}

// decodeSASL decodes SASL data (RFC 6120 §6.4.2); "=" and no text at all
// are both empty.
func decodeSASL(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "=" {
		return []byte{}, nil
	}
	data, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, &auth.Failure{Condition: "incorrect-encoding"}
	}
	return data, nil
}

// saslElement serialises a SASL element of the namespace ns carrying data.
func saslElement(ns, name string, data []byte) []byte {
	if len(data) == 0 {
		return []byte("<" + name + " xmlns='" + ns + "'/>")
	}
	return []byte("<" + name + " xmlns='" + ns + "'>" + base64.StdEncoding.EncodeToString(data) + "</" + name + ">")
}

// bind handles resource binding (RFC 6120 §7). Other IQs before binding
// get a stanza error, or end the stream when they address anyone but the
// server or the account (§7.1); a bind returns the new session.
func (st *stream) bind(iq *xmlstream.Element) (*Session, error) {
	if !st.ownAddress(iq.Attr("to")) {
		// RFC 6120 §7.1: not processed, and the stream ends.
		return nil, st.fail(&streamError{"not-authorized", "bind a resource before addressing others"})
	}
	if bad, err := st.invalidIQ(iq); bad || err != nil {
		return nil, err
	}
	b := iq.Child(NSBind, "bind")
	if typ := iq.Attr("type"); b == nil && (typ == "error" || typ == "result") {
		// Nothing to answer (RFC 6120 §8.2.3, §8.3.1: never an error in
		// answer to an error).
		return nil, nil
	}
	if b == nil || iq.Attr("type") != "set" {
		reply := stanza.ErrorReply(iq, stanza.NotAuthorized, "bind a resource first")
		reply.SetAttr("from", "")
		return nil, st.t.Write(reply.Append(nil, st.t.Namespace()))
	}
	res := ""
	if r := b.Child(NSBind, "resource"); r != nil {
		res = strings.TrimSpace(r.Text())
	}
	if res == "" {
		res = stanza.NewID()
	}
	full, err := jid.New(st.username, st.domain, res)
	if err != nil {
		reply := stanza.ErrorReply(iq, stanza.BadRequest, "the resource is not valid")
		reply.SetAttr("from", "")
		return nil, st.t.Write(reply.Append(nil, st.t.Namespace()))
	}
	if st.srv.router.Revoked(full.Bare(), st.loggedIn) {
		return nil, st.fail(errRevoked)
	}
	payload := xmlstream.NewElement(NSBind, "bind")
	payload.AddChild(xmlstream.NewElement(NSBind, "jid").AddText(full.String()))
	result := stanza.Result(iq, payload)
	result.SetAttr("from", "")
	sess := newSession(st.srv, st.t, full, st.lang)
	st.readerDone = sess.readerDone
	sess.Deliver(result)
	st.log.Info("c2s bound", "remote", st.t.RemoteAddr(), "jid", full.String())
	return sess, nil
}

// invalidIQ answers an IQ sent before binding that is not a valid one
// (RFC 6120 §8.2.3: no id, or no known type) with bad-request, unless it
// is an error (§8.3.1), and reports whether it was invalid: it is not
// processed.
func (st *stream) invalidIQ(iq *xmlstream.Element) (bool, error) {
	problem := invalidStanza(iq)
	if problem == "" {
		return false, nil
	}
	if iq.Attr("type") == "error" {
		return true, nil
	}
	// Without the payload, which may be a registration's password.
	bare := iq.Copy()
	bare.Children = nil
	reply := stanza.ErrorReply(bare, stanza.BadRequest, problem)
	reply.SetAttr("from", "")
	return true, st.t.Write(reply.Append(nil, st.t.Namespace()))
}

// ownAddress reports whether to, the 'to' of a stanza sent before
// binding, names the server or the stream's own account (none names the
// account): the only entities such a stanza may address (RFC 6120 §7.1).
func (st *stream) ownAddress(to string) bool {
	if to == "" {
		return true
	}
	j, err := jid.Parse(to)
	return err == nil && j.Resourcepart() == "" && j.Domainpart() == st.domain &&
		(j.Localpart() == "" || j.Localpart() == st.username)
}

// streamElement serialises a stream-namespace element such as
// <stream:features/> for this transport.
func (st *stream) streamElement(local string, children ...*xmlstream.Element) []byte {
	return streamElement(st.t, local, children...)
}

func streamElement(t Transport, local string, children ...*xmlstream.Element) []byte {
	b := []byte("<stream:" + local)
	if !t.StreamPrefix() {
		b = append(b, " xmlns:stream='"+NSStreams+"'"...)
	}
	if len(children) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	for _, c := range children {
		b = c.Append(b, "")
	}
	return append(b, "</stream:"+local+">"...)
}

// streamErrorFrame serialises a stream error, with the
// application-specific condition app when not nil.
func streamErrorFrame(t Transport, condition, text string, app *xmlstream.Element) []byte {
	children := []*xmlstream.Element{xmlstream.NewElement(NSStreamErr, condition)}
	if text != "" {
		children = append(children, xmlstream.NewElement(NSStreamErr, "text").AddText(text))
	}
	if app != nil {
		children = append(children, app)
	}
	return streamElement(t, "error", children...)
}

// fail turns err into the stream error the client must see, sends it with
// the end of the stream, and returns err. A stream that ended cleanly is
// answered with the end of ours.
func (st *stream) fail(err error) error {
	cond, text := streamCondition(err)
	if st.srv.shuttingDown() {
		cond, text = "system-shutdown", "the server is stopping"
	}
	if cond == "" {
		if errors.Is(err, xmlstream.ErrStreamEnd) {
			st.t.Write(st.t.CloseFrame())
		}
		return err
	}
	st.log.Info("c2s stream error", "remote", st.t.RemoteAddr(), "condition", cond, "text", text)
	frames := [][]byte{streamErrorFrame(st.t, cond, text, streamApp(err)), st.t.CloseFrame()}
	if !st.opened {
		// RFC 6120 §4.9.1.2: a stream error needs our header first.
		st.opened = true
		domain := st.domain
		if domain == "" {
			domain = st.srv.cfg.Hosts[0]
		}
		st.t.WriteHeader(stanza.NewID(), domain, "", "en", frames...)
		return err
	}
	st.t.Write(frames...)
	return err
}

// isStreamError reports whether el is a stream error the client sent
// (RFC 6120 §4.9). It ends the client's stream, and the server ends its
// own in answer, without a stream error of its own, as Prosody and
// ejabberd do.
func isStreamError(el *xmlstream.Element) bool {
	return el.Name.Space == NSStreams && el.Name.Local == "error"
}

// streamErrorCondition is the defined condition of the stream error el,
// for the log.
func streamErrorCondition(el *xmlstream.Element) string {
	for _, c := range el.ChildElements() {
		if c.Name.Space == NSStreamErr && c.Name.Local != "text" {
			return c.Name.Local
		}
	}
	return ""
}

// streamCondition maps err to a stream error condition, or "" when no
// stream error is due (the connection ended or the stream closed).
func streamCondition(err error) (condition, text string) {
	var se *streamError
	var xe *xmlstream.Error
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.condition, se.text
	case errors.As(err, &xe):
		return xe.Condition, xe.Text
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "connection-timeout", ""
	case errors.Is(err, xmlstream.ErrStreamEnd), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return "", ""
	}
	return "", ""
}

// negotiationDeadline is when a stream that has not bound a resource is
// closed.
func (srv *Server) negotiationDeadline() time.Time {
	return time.Now().Add(srv.cfg.NegotiationTimeout)
}
