package s2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/internal/ratelimit"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// maxPendingVerifications bounds the dialback keys one incoming stream
// may have us verify at once; a key beyond it gets a resource-constraint
// dialback error.
const maxPendingVerifications = 10

// maxAuthFailures is how many failed SASL requests one stream may make
// before it is closed with policy-violation (RFC 6120 §6.4.5: a few
// retries, and no more than 5), as for clients.
const maxAuthFailures = 3

// Bounds on what authenticated peers hold; beyond them a proof is
// refused, with a resource-constraint dialback error (XEP-0220 §2.4:
// the stream and its other pairs go on) or a SASL failure.
const (
	// maxPairsPerStream bounds the domain pairs authenticated, or being
	// verified, on one incoming stream (multiplexing, XEP-0220 §3).
	maxPairsPerStream = 1000
	// maxStreamsPerPair bounds the incoming streams on which one domain
	// pair is authenticated at once: a peer needs one, and a few more
	// while it reconnects before its old streams have timed out.
	maxStreamsPerPair = 10
)

// inStream is a stream another server opened to us.
type inStream struct {
	s     *Server
	c     *conn
	local string // the domain the headers are addressed to
	peer  string // the domain the headers come from, if they say
	id    string // the current stream id
	// external is true once a domain authenticated with SASL EXTERNAL,
	// which is not offered again; for the pair sasl.
	external bool
	sasl     pair
	// failures counts the failed SASL requests (maxAuthFailures).
	failures int

	// limit is the peer's rate limit (nil: none); the reader's own.
	limit *ratelimit.Bucket

	// negotiated uncounts the stream from its address's streams without
	// an authenticated domain (Server.startNegotiating); safe to call
	// more than once.
	negotiated func()

	// mu is taken before the Server's mu (offerBidi, countPair), never
	// after.
	mu       sync.Mutex
	verified map[pair]bool // domain pairs dialback proved
	pending  int           // verifications under way
	// bidi is true once the peer asked to get our stanzas over this
	// stream (XEP-0288), on its current security layer.
	bidi bool
	// told holds the verified pairs the peer has been told about: it may
	// take stanzas for them from then on.
	told map[pair]bool
	// released is true once the stream ended and its pairs were
	// uncounted (Server.inPairs): none is proven after.
	released bool
}

// serveIn runs an incoming stream until it ends; with direct, it starts
// with the TLS handshake (XEP-0368).
func (s *Server) serveIn(c *conn, direct *tls.Config) {
	negotiated, ok := s.startNegotiating(c.nc.RemoteAddr())
	if !ok {
		s.log.Info("s2s incoming stream refused: too many unauthenticated streams from its address",
			"remote", c.nc.RemoteAddr().String(), "limit", s.cfg.NegotiatingPerAddress)
		if direct != nil {
			c.nc.Close() // no stream error before TLS
			return
		}
		c.end(streamErr("policy-violation", "too many streams from your address are not authenticated yet"), "")
		return
	}
	defer negotiated()
	if direct != nil {
		ctx, cancel := s.connectTimeout()
		err := c.startTLS(ctx, direct, false)
		cancel()
		if err != nil {
			s.log.Info("s2s direct TLS handshake failed", "remote", c.nc.RemoteAddr().String(), "err", err)
			c.nc.Close()
			return
		}
	}
	in := &inStream{s: s, c: c, verified: map[pair]bool{}, told: map[pair]bool{}, negotiated: negotiated}
	if s.cfg.RateLimit > 0 {
		in.limit = ratelimit.New(s.cfg.RateLimit, time.Now())
		c.readHook = in.throttle
	}
	err := in.run()
	if !isClosed(err) {
		s.log.Info("s2s incoming stream error", "remote", c.nc.RemoteAddr().String(), "local", in.local, "err", err)
	}
	in.release()
	s.dropBidi(c)
	c.end(err, in.local)
}

// run reads stream headers and elements; STARTTLS restarts the stream.
func (in *inStream) run() error {
	c := in.c
	c.nc.SetReadDeadline(time.Now().Add(in.s.cfg.ConnectTimeout))
	for {
		h, err := c.readHeader()
		if err != nil {
			return err
		}
		if in.local != "" && (h.To != in.local || h.From != in.peer) {
			// What was negotiated (TLS for the domain, SASL) was for
			// the first header's domains; Prosody refuses this too.
			return streamErr("improper-addressing", "a restarted stream must keep the 'to' and 'from' of the first header")
		}
		if !in.s.router.Serves(h.To) {
			return streamErr("host-unknown", "this server does not serve "+h.To)
		}
		in.local, in.peer = h.To, h.From
		if !strings.HasPrefix(h.Version, "1.") {
			// A later minor version speaks XMPP 1 too; our header
			// answers 1.0, the lower of the two (RFC 6120 §4.7.5).
			return streamErr("unsupported-version", "only XMPP 1.x streams are accepted")
		}
		in.id = stanza.NewID()
		if err := c.writeHeader(h.To, h.From, in.id, in.features()); err != nil {
			return err
		}
		if in.external {
			// The features after SASL tell the peer that its domain is
			// authenticated.
			in.tell(in.sasl)
		}
		restart, err := in.elements()
		if !restart {
			return err
		}
	}
}

// features offers STARTTLS before encryption, then SASL EXTERNAL when the
// peer's certificate verifies for the domain its header names (XEP-0178),
// and dialback (XEP-0220 §2.1), bidirectionality (XEP-0288) and stream
// management (XEP-0198, sm.go) once the stream is encrypted or may stay
// plain.
func (in *inStream) features() []byte {
	var fs []*xmlstream.Element
	if !in.c.tls && in.s.cfg.TLS != nil {
		tls := xmlstream.NewElement(nsTLS, "starttls")
		if in.s.cfg.RequireTLS {
			tls.AddChild(xmlstream.NewElement(nsTLS, "required"))
		}
		fs = append(fs, tls)
	}
	if in.c.tls && !in.external && in.s.verified(in.c, in.peer) {
		fs = append(fs, xmlstream.NewElement(nsSASL, "mechanisms").AddChild(xmlstream.NewElement(nsSASL, "mechanism").AddText("EXTERNAL")))
	}
	if in.c.tls || !in.s.cfg.RequireTLS {
		fs = append(fs, xmlstream.NewElement(nsDialbackFeature, "dialback").AddChild(xmlstream.NewElement(nsDialbackFeature, "errors")),
			xmlstream.NewElement(nsBidiFeature, "bidi"), xmlstream.NewElement(nsSM, "sm"))
	}
	return streamElement("features", fs...)
}

// elements handles the elements of one stream; restart is true after
// STARTTLS.
func (in *inStream) elements() (restart bool, err error) {
	c := in.c
	for {
		el, err := c.readElement()
		if err != nil {
			return false, err
		}
		switch {
		case el.Name.Space == nsTLS && el.Name.Local == "starttls":
			in.mu.Lock()
			authenticated := len(in.verified) > 0 || in.pending > 0
			in.mu.Unlock()
			if c.tls || in.s.cfg.TLS == nil || authenticated {
				// Once a domain is authenticated, stanzas may be on
				// their way both ways: too late to encrypt (RFC 6120
				// §5.3.1, negotiated first). A verdict still awaited
				// would be for the plain stream, and must not carry
				// over to the encrypted one (§5.4.3.3).
				return false, streamErr("policy-violation", "STARTTLS is not available on this stream")
			}
			if err := c.write(xmlstream.NewElement(nsTLS, "proceed").Append(nil, "")); err != nil {
				return false, err
			}
			in.mu.Lock()
			in.bidi = false // asked for before encryption: maybe not by the peer
			in.mu.Unlock()
			ctx, cancel := in.s.connectTimeout()
			err := c.startTLS(ctx, in.s.cfg.TLS, false)
			cancel()
			return err == nil, err
		case el.Name.Space == nsSASL && el.Name.Local == "auth":
			failure := in.authenticate(el)
			if failure == "" {
				// The peer starts the new stream after <success/>.
				err := c.writeElements(xmlstream.NewElement(nsSASL, "success"))
				c.restart()
				return err == nil, err
			}
			if err := c.writeElements(xmlstream.NewElement(nsSASL, "failure").AddChild(xmlstream.NewElement(nsSASL, failure))); err != nil {
				return false, err
			}
			if in.failures++; in.failures >= maxAuthFailures {
				return false, streamErr("policy-violation", "too many failed authentication attempts")
			}
		case el.Name.Space == nsBidi && el.Name.Local == "bidi":
			if !c.tls && in.s.cfg.RequireTLS {
				return false, streamErr("policy-violation", "encryption is required: STARTTLS first")
			}
			in.askedBidi()
		case el.Name.Space == nsDialback && (el.Name.Local == "result" || el.Name.Local == "verify"):
			if !c.tls && in.s.cfg.RequireTLS {
				return false, streamErr("policy-violation", "encryption is required: STARTTLS first")
			}
			if isAnswer(el) {
				// Answers belong on the streams we open (XEP-0220 §2.2),
				// and we send no dialback request over a peer's stream,
				// bidirectional or not: this answers nothing we asked.
				// Like any answer to no request of ours it is dropped
				// (§2.1.2, §3.1), never taken for a request; the stream
				// and the other pairs it carries go on (§2.5: dialback
				// problems are not stream errors).
				in.s.log.Debug("s2s dialback: an answer on an incoming stream dropped", "local", in.local, "peer", in.peer,
					"element", el.Name.Local, "type", el.Attr("type"), "from", el.Attr("from"), "to", el.Attr("to"))
				continue
			}
			if el.Name.Local == "result" {
				err = in.result(el)
			} else {
				err = in.answerVerify(el)
			}
			if err != nil {
				return false, err
			}
		case el.Name.Space == xmlstream.NSStream && el.Name.Local == "error":
			// The peer ends the stream (RFC 6120 §4.9.1.1): close ours
			// without an error of our own.
			in.s.log.Info("s2s incoming stream ended by a stream error", "local", in.local, "condition", describeError(el))
			return false, xmlstream.ErrStreamEnd
		case el.Name.Space == nsSM:
			if err := in.manage(el); err != nil {
				return false, err
			}
		case stanza.IsStanza(el, stanza.NSServer):
			if err := in.stanza(el); err != nil {
				return false, err
			}
			c.received.count()
			c.extendRead(4 * in.s.cfg.IdleTimeout)
		default:
			return false, streamErr("unsupported-stanza-type", "unexpected <"+el.Name.Local+"/> in "+el.Name.Space)
		}
	}
}

// authenticate handles SASL EXTERNAL (RFC 6120 §6.4, XEP-0178): the
// domain the peer asks for (its authorization identity, else its
// header's 'from') is authenticated for the stream's local domain if the
// peer's certificate verifies for it. It returns the SASL failure
// condition (RFC 6120 §6.5), or "" on success.
func (in *inStream) authenticate(auth *xmlstream.Element) (failure string) {
	switch {
	case auth.Attr("mechanism") != "EXTERNAL" || in.external:
		return "invalid-mechanism" // the one we offer, and only once
	case !in.c.tls:
		return "encryption-required"
	}
	domain := in.peer
	if text := strings.TrimSpace(auth.Text()); text != "" && text != "=" {
		authzid, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return "incorrect-encoding"
		}
		if domain = string(authzid); !in.foreign(domain) {
			return "invalid-authzid" // not a domain, or one of ours
		}
	}
	if !in.foreign(domain) || !in.s.verified(in.c, domain) {
		in.s.log.Info("s2s certificate authentication refused", "remote", domain, "local", in.local)
		return "not-authorized"
	}
	if !in.proven(in.local, domain, "certificate (SASL EXTERNAL)") {
		return "temporary-auth-failure" // RFC 6120 §6.5.11: may work later
	}
	in.external, in.sasl = true, pair{local: in.local, remote: domain}
	return ""
}

// proven records that remote is authenticated for local on this stream,
// by the means named, so that its stanzas may follow at once; a silent
// peer is closed later. It returns false, and records nothing, when
// maxStreamsPerPair streams authenticate the pair already, or the
// stream ended.
func (in *inStream) proven(local, remote, by string) bool {
	p := pair{local: local, remote: remote}
	in.mu.Lock()
	if !in.verified[p] {
		if in.released {
			in.mu.Unlock()
			return false // the stream ended meanwhile
		}
		if !in.s.countPair(p) {
			in.mu.Unlock()
			in.s.log.Info("s2s incoming stream refused for a domain pair: too many streams authenticate it",
				"remote", remote, "local", local, "limit", maxStreamsPerPair)
			return false
		}
		in.verified[p] = true
	}
	in.mu.Unlock()
	in.c.authenticated.Store(true)
	in.c.extendRead(4 * in.s.cfg.IdleTimeout)
	in.negotiated()
	in.s.log.Info("s2s incoming stream authenticated", "remote", remote, "local", local, "by", by)
	return true
}

// crowded reports whether p may not be authenticated on this stream,
// which holds maxPairsPerStream other pairs, authenticated or being
// verified, already.
func (in *inStream) crowded(p pair) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !in.verified[p] && len(in.verified)+in.pending >= maxPairsPerStream
}

// release uncounts the pairs authenticated on the stream, which ended.
func (in *inStream) release() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.released = true
	in.s.uncountPairs(in.verified)
}

// foreign reports whether domain is a valid domain that this server does
// not serve: one a peer may authenticate as.
func (in *inStream) foreign(domain string) bool {
	_, err := jid.New("", domain, "")
	return err == nil && domain != "" && !in.s.router.Serves(domain)
}

// result handles a peer's claim to a domain (XEP-0220 §2.1.2). A peer
// whose certificate verifies for the domain is believed at once
// (XEP-0344 §2.4); otherwise the key is checked with the claimed domain's
// own server, in the background, and the verdict sent back, unless
// secure_auth refuses dialback without a certificate.
func (in *inStream) result(el *xmlstream.Element) error {
	from, to, key := domainOf(el.Attr("from")), domainOf(el.Attr("to")), el.Text()
	if !in.s.router.Serves(to) {
		return in.c.writeElements(dialbackError("result", to, from, "", "cancel", stanza.ItemNotFound))
	}
	if !in.foreign(from) {
		return in.c.writeElements(dialbackError("result", to, from, "", "modify", stanza.BadRequest))
	}
	if in.crowded(pair{local: to, remote: from}) {
		in.s.log.Info("s2s dialback refused: too many domain pairs on the stream", "remote", from, "local", to, "limit", maxPairsPerStream)
		return in.c.writeElements(dialbackError("result", to, from, "", "wait", stanza.ResourceConstraint))
	}
	if in.s.verified(in.c, from) {
		if !in.proven(to, from, "certificate (dialback)") {
			return in.c.writeElements(dialbackError("result", to, from, "", "wait", stanza.ResourceConstraint))
		}
		err := in.c.writeElements(xmlstream.NewElement(nsDialback, "result", "from", to, "to", from, "type", "valid"))
		in.tell(pair{local: to, remote: from})
		return err
	}
	if in.s.cfg.SecureAuth {
		// XEP-0220 §2.4: a policy that requires a certificate the peer
		// did not prove the domain with is not-authorized.
		in.s.log.Info("s2s dialback refused: the certificate cannot be verified", "remote", from, "local", to)
		return in.c.writeElements(dialbackError("result", to, from, "", "auth", stanza.NotAuthorized))
	}
	in.mu.Lock()
	if in.pending >= maxPendingVerifications {
		in.mu.Unlock()
		// A dialback error, not a stream error: the pairs verified on
		// the stream go on (XEP-0220 §2.2.1, §2.4).
		in.s.log.Info("s2s dialback refused: too many verifications under way for the stream", "remote", from, "local", to, "limit", maxPendingVerifications)
		return in.c.writeElements(dialbackError("result", to, from, "", "wait", stanza.ResourceConstraint))
	}
	in.pending++
	in.mu.Unlock()
	id := in.id
	go func() {
		ctx, cancel := in.s.connectTimeout()
		defer cancel()
		// The verification ends with the stream that asked for it, so
		// that the bound on pending ones holds for a peer that hangs up.
		ctx, abandon := context.WithCancelCause(ctx)
		go func() {
			select {
			case <-in.c.closed:
				abandon(errAbandoned)
			case <-ctx.Done():
			}
		}()
		valid, err := in.s.verify(ctx, to, from, id, key)
		// Proven before it stops pending: the pair counts all along
		// (crowded, STARTTLS).
		admitted := valid && in.proven(to, from, "dialback")
		in.mu.Lock()
		in.pending--
		in.mu.Unlock()
		var answer *xmlstream.Element
		refused := false
		switch {
		case valid && !admitted:
			answer = dialbackError("result", to, from, "", "wait", stanza.ResourceConstraint)
			valid = false
		case err != nil:
			in.s.log.Info("s2s dialback verification failed", "remote", from, "local", to, "err", err)
			cond := stanza.RemoteServerNotFound
			if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
				cond = "remote-server-timeout"
			}
			answer = dialbackError("result", to, from, "", "cancel", cond)
		case valid:
			answer = xmlstream.NewElement(nsDialback, "result", "from", to, "to", from, "type", "valid")
		default:
			in.s.log.Info("s2s dialback key refused", "remote", from, "local", to)
			answer = xmlstream.NewElement(nsDialback, "result", "from", to, "to", from, "type", "invalid")
			refused = true
		}
		// Told valid, the peer may take our stanzas at once.
		in.c.writeThen(answer, func() {
			if valid {
				in.tell(pair{local: to, remote: from})
			}
		})
		if refused {
			// A key the domain's own server denies is an attempt to spoof
			// it: the stream is closed after the verdict (XEP-0220
			// §2.2.1), and what the peer authenticated on it with it.
			in.c.end(streamErr("not-authorized", "the server of "+from+" refused the dialback key"), to)
		}
	}()
	return nil
}

// tell records that the peer has been told that p is authenticated: from
// then on it takes our stanzas for p over this stream, if it asked for
// that (XEP-0288).
func (in *inStream) tell(p pair) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.told[p] = true
	if in.bidi {
		in.s.offerBidi(p, in.c)
	}
}

// askedBidi records the peer's request to get our stanzas over this
// stream (XEP-0288 §2.2), for the pairs it has been told about already
// and those to come.
func (in *inStream) askedBidi() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.bidi = true
	for p := range in.told {
		in.s.offerBidi(p, in.c)
	}
}

// answerVerify tells a receiving server whether a key is one we sent it
// (XEP-0220 §2.3.2): we are the authoritative server of 'to'.
func (in *inStream) answerVerify(el *xmlstream.Element) error {
	from, to, id := domainOf(el.Attr("from")), domainOf(el.Attr("to")), el.Attr("id")
	if !in.s.router.Serves(to) {
		return in.c.writeElements(dialbackError("verify", to, from, id, "cancel", stanza.ItemNotFound))
	}
	typ := "invalid"
	if keyMatches(in.s.cfg.Secret, from, to, id, el.Text()) {
		typ = "valid"
	}
	return in.c.writeElements(xmlstream.NewElement(nsDialback, "verify", "from", to, "to", from, "id", id, "type", typ))
}

// stanza routes a stanza from an authenticated domain to a local one.
// Before any domain is authenticated on the stream, any stanza is
// refused unprocessed (not-authorized, RFC 6120 §4.9.3.12). Its
// addresses must both be present, valid JIDs (else improper-addressing,
// §4.9.3.7, §8.1.1.1, §8.1.2.1) and name a verified pair (§4.9.3.9).
func (in *inStream) stanza(el *xmlstream.Element) error {
	in.mu.Lock()
	someVerified := len(in.verified) > 0
	in.mu.Unlock()
	if !someVerified {
		return streamErr("not-authorized", "no domain is authenticated on this stream")
	}
	stanza.DropNamespacedAddressing(el)
	fromAttr, toAttr := el.Attr("from"), el.Attr("to")
	if fromAttr == "" || toAttr == "" {
		return streamErr("improper-addressing", "stanzas between servers need 'from' and 'to'")
	}
	from, err := jid.Parse(fromAttr)
	if err != nil {
		return streamErr("improper-addressing", "'from' is not a valid JID")
	}
	to, err := jid.Parse(toAttr)
	if err != nil {
		return streamErr("improper-addressing", "'to' is not a valid JID")
	}
	in.mu.Lock()
	ok := in.verified[pair{local: to.Domainpart(), remote: from.Domainpart()}]
	in.mu.Unlock()
	switch {
	case ok:
	case !in.s.router.Serves(to.Domainpart()):
		return streamErr("host-unknown", "this server does not serve "+to.Domainpart())
	default:
		return streamErr("invalid-from", fromAttr+" is not authenticated on this stream")
	}
	el.SetAttr("from", from.String())
	el.SetAttr("to", to.String())
	stanza.ToClient(el, stanza.NSServer)
	in.s.router.Route(context.Background(), el)
	return nil
}

// dialbackError is a dialback element of type error (XEP-0220 §2.4).
func dialbackError(local, from, to, id, typ, condition string) *xmlstream.Element {
	el := xmlstream.NewElement(nsDialback, local, "from", from, "to", to, "id", id, "type", "error")
	return el.AddChild(xmlstream.NewElement(stanza.NSServer, "error", "type", typ).AddChild(xmlstream.NewElement(stanza.NSStanzas, condition)))
}

// throttle pauses reading from the peer, after a read of n bytes, for as
// long as its rate limit says, or until the stream ends. It is the
// connection's read hook.
func (in *inStream) throttle(n int) {
	if in.limit == nil {
		return
	}
	if d := in.limit.Take(n, time.Now()); d > 0 {
		in.s.log.Debug("s2s rate limit: reading from the peer is paused", "local", in.local, "peer", in.peer, "for", d)
		ratelimit.Wait(d, in.c.closed)
	}
}
