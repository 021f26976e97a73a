package httpd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"xmppd/c2s"
	"xmppd/xmlstream"
)

// Namespaces of XMPP over BOSH.
const (
	// NSHTTPBind is the namespace of BOSH's <body/> wrapper (XEP-0124).
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	// NSXBOSH is the namespace of XEP-0206's attributes.
	NSXBOSH = "urn:xmpp:xbosh"
)

// What the server agrees to in a session creation response (XEP-0124 §7.1).
const (
	boshVersion = "1.11"
	// boshMaxWait is the longest the server holds a request.
	boshMaxWait = 60 * time.Second
	// boshMaxHold is how many requests the server holds at most: one,
	// so that the client always has one more to send with.
	boshMaxHold = 1
	// boshPolling is the shortest time between two empty requests.
	boshPolling = 2 * time.Second
	// boshCreationBytes bounds requests of no session: they start one,
	// and are small.
	boshCreationBytes = 16 << 10
	// boshReadTimeout bounds reading a request's body.
	boshReadTimeout = 10 * time.Second
)

// boshHandler serves XMPP over BOSH (XEP-0124, XEP-0206) at one path: each
// session is a client stream of the c2s server.
type boshHandler struct {
	cfg     Config
	streams *c2s.Server

	mu       sync.Mutex
	sessions map[string]*boshSession
}

func newBOSHHandler(cfg Config, streams *c2s.Server) *boshHandler {
	return &boshHandler{cfg: cfg, streams: streams, sessions: make(map[string]*boshSession)}
}

func (h *boshHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Browser clients are served from other origins; the XMPP stream
	// authenticates itself, cookies play no part.
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	hdr.Set("Access-Control-Allow-Headers", "Content-Type")
	hdr.Set("Access-Control-Max-Age", "86400")
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet:
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "XMPP over BOSH (XEP-0206): POST <body/> elements here.\n")
		return
	case http.MethodPost:
	default:
		hdr.Set("Allow", "GET, POST, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The body of a request comes at once; only answers wait.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(boshReadTimeout))
	lim := h.bodyLimits()
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(lim.MaxStanzaBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// What was read, the start, tells the session or version.
			// policy-violation is terminal (XEP-0124 §17.2): the
			// session ends.
			s := h.session(quickSID(data))
			if s != nil {
				s.fail(errBOSHTooLarge)
				useContent(w, s)
			}
			boshError(w, legacyClient(s, data), "policy-violation")
		}
		return
	}
	// A request of a session may be as large as a stanza; others, which
	// start one, need not be, and are not parsed when larger. One naming
	// a session that is gone (a client still sending after it terminated
	// it) learns so, whatever it carries (XEP-0124 §17.2).
	sid := quickSID(data)
	s := h.session(sid)
	if s != nil {
		useContent(w, s)
	}
	if s == nil && sid != "" {
		boshReply(w, http.StatusOK, boshTerminate("item-not-found"))
		return
	}
	if s == nil {
		lim.MaxStanzaBytes = min(lim.MaxStanzaBytes, boshCreationBytes)
	} else if len(data) > s.maxBody() {
		// Larger than the stream accepts now (before authentication far
		// less than a stanza): not parsed, which would take dozens of
		// times its size for a client that proved nothing, as many
		// times at once as it sends requests. The stream gets its
		// policy-violation in rid order, as for any request too large.
		rid, err := strconv.ParseInt(quickAttr(data, "rid"), 10, 64)
		if err != nil || rid <= 0 || rid >= 1<<53 {
			s.fail(errBOSHBadRequest)
			boshError(w, s.legacy, "policy-violation")
			return
		}
		body := xmlstream.NewElement(NSHTTPBind, "body", "sid", sid)
		if resp, condition := s.request(r.Context(), body, rid, len(data)); condition != "" {
			boshError(w, s.legacy, condition)
		} else {
			boshReply(w, http.StatusOK, resp)
		}
		return
	}
	body, err := xmlstream.ParseElement(data, lim)
	if err != nil || body.Name != (xml.Name{Space: NSHTTPBind, Local: "body"}) {
		condition := "bad-request"
		var xe *xmlstream.Error
		if errors.As(err, &xe) && xe.Condition == xmlstream.CondPolicyViolation {
			condition = "policy-violation"
		}
		if s != nil {
			s.fail(errBOSHBadRequest)
		}
		boshError(w, legacyClient(s, data), condition)
		return
	}
	sid = body.Attr("sid")
	if sid != "" && (s == nil || s.sid != sid) {
		if s = h.session(sid); s == nil {
			boshReply(w, http.StatusOK, boshTerminate("item-not-found"))
			return
		}
		useContent(w, s)
	}
	rid, err := strconv.ParseInt(body.Attr("rid"), 10, 64)
	if err != nil || rid <= 0 || rid >= 1<<53 {
		// A request without a valid rid, like any bad request, ends its
		// session: bad-request is a terminal binding condition
		// (XEP-0124 §17.2).
		if s != nil {
			s.fail(errBOSHBadRequest)
		}
		boshError(w, legacyClient(s, data), "bad-request")
		return
	}
	if sid == "" {
		s = h.create(r, body, rid)
		useContent(w, s)
	}
	resp, condition := s.request(r.Context(), body, rid, len(data))
	if condition != "" {
		boshError(w, s.legacy, condition)
		return
	}
	boshReply(w, http.StatusOK, resp)
}

// session returns the session sid, or nil.
func (h *boshHandler) session(sid string) *boshSession {
	if sid == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[sid]
}

// quickSID returns the sid attribute of the <body/> that data starts
// with, read from its start tag without parsing it, or "".
func quickSID(data []byte) string { return quickAttr(data, "sid") }

// quickAttr returns the attribute attr of the element that data starts
// with, read from its start tag without parsing it, or "".
func quickAttr(data []byte, attr string) string {
	i := bytes.IndexByte(data, '<')
	if i < 0 {
		return ""
	}
	rest := data[i+1:]
	// The element's name, then attributes up to the end of the tag.
	n := bytes.IndexAny(rest, " \t\r\n/>")
	if n < 0 {
		return ""
	}
	rest = rest[n:]
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		eq := bytes.IndexByte(rest, '=')
		if eq <= 0 || bytes.ContainsAny(rest[:eq], "/><'\"") {
			return ""
		}
		name := bytes.TrimRight(rest[:eq], " \t\r\n")
		rest = bytes.TrimLeft(rest[eq+1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '\'' && rest[0] != '"' {
			return ""
		}
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return ""
		}
		if string(name) == attr {
			if v := rest[1 : 1+end]; !bytes.ContainsAny(v, "&\t\r\n") {
				return string(v)
			}
			return "" // a reference or white space to normalise: left to the parser
		}
		rest = rest[end+2:]
	}
}

// bodyLimits bounds a request's body: a stanza of the largest size, in
// the <body/> wrapper.
func (h *boshHandler) bodyLimits() xmlstream.Limits {
	lim := h.cfg.Limits
	if lim.MaxStanzaBytes <= 0 {
		lim.MaxStanzaBytes = xmlstream.DefaultMaxStanzaBytes
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = xmlstream.DefaultMaxDepth
	}
	lim.MaxStanzaBytes += boshBodySlack
	lim.MaxDepth++
	return lim
}

// create starts a session for a session creation request and a client
// stream on it.
func (h *boshHandler) create(r *http.Request, body *xmlstream.Element, rid int64) *boshSession {
	// The answer's wait MUST be no longer than the client's (XEP-0124
	// §7.2): 0 too, from a client that polls (§12).
	wait := boshMaxWait
	if n, err := strconv.Atoi(body.Attr("wait")); err == nil && n >= 0 && n < int(boshMaxWait/time.Second) {
		wait = time.Duration(n) * time.Second
	}
	hold := boshMaxHold
	if n, err := strconv.Atoi(body.Attr("hold")); err == nil && n >= 0 {
		hold = min(hold, n)
	}
	s := newBOSHSession(rid, h.cfg.Limits, h.forget)
	s.remote = h.cfg.clientAddr(r)
	s.secure = h.cfg.BehindTLSProxy || r.TLS != nil || isLoopback(r.RemoteAddr)
	s.wait, s.hold = wait, hold
	s.inactivity, s.writeTimeout = h.cfg.BOSHInactivity, h.cfg.WriteTimeout
	v := body.Attr("ver")
	if versionBelow(v, boshVersion) {
		s.version = v
	}
	s.legacy = v == ""
	s.content = responseContent(body.Attr("content"))
	h.mu.Lock()
	h.sessions[s.sid] = s
	h.mu.Unlock()
	go h.streams.ServeTransport(context.Background(), s)
	return s
}

func (h *boshHandler) forget(s *boshSession) {
	h.mu.Lock()
	delete(h.sessions, s.sid)
	h.mu.Unlock()
}

// versionBelow reports whether v, a BOSH version "major.minor", is a
// valid one below w (XEP-0124 §7.1: the answer names the lower).
func versionBelow(v, w string) bool {
	parse := func(s string) (major, minor int, ok bool) {
		a, b, found := strings.Cut(s, ".")
		major, err1 := strconv.Atoi(a)
		minor, err2 := strconv.Atoi(b)
		return major, minor, found && err1 == nil && err2 == nil && major >= 0 && minor >= 0
	}
	vmaj, vmin, ok := parse(v)
	wmaj, wmin, _ := parse(w)
	return ok && (vmaj < wmaj || vmaj == wmaj && vmin < wmin)
}

// newSID returns a session id no one can guess: it is all that ties a
// request to its session.
func newSID() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// boshTerminate is a response that ends the session, with the condition
// of XEP-0124 §17.2 unless empty.
func boshTerminate(condition string) []byte {
	b := "<body xmlns='" + NSHTTPBind + "' type='terminate'"
	if condition != "" {
		b += " condition='" + condition + "'"
	}
	return []byte(b + "/>")
}

// boshLegacyStatus is the HTTP error code that each terminal binding
// condition supersedes, for legacy clients (XEP-0124 §17.1).
var boshLegacyStatus = map[string]int{
	"bad-request":      http.StatusBadRequest,
	"policy-violation": http.StatusForbidden,
	"item-not-found":   http.StatusNotFound,
}

// boshError answers a request that ends its session, or would have
// started one, with condition. A client that announced its BOSH version
// gets it as a terminal binding condition in an HTTP 200 answer
// (XEP-0124 §17.2); a legacy client, which did not, the HTTP error code
// the condition supersedes (§17.1), with the same body.
func boshError(w http.ResponseWriter, legacy bool, condition string) {
	status := http.StatusOK
	if code, ok := boshLegacyStatus[condition]; ok && legacy {
		status = code
	}
	boshReply(w, status, boshTerminate(condition))
}

// legacyClient reports whether the client of a request of session s (nil
// for none), whose body starts with data, is a legacy one (XEP-0124
// §17.1): its session's creation request, or this one when it names no
// live session, had no 'ver' attribute.
func legacyClient(s *boshSession, data []byte) bool {
	if s != nil {
		return s.legacy
	}
	return quickAttr(data, "ver") == ""
}

// boshContent is the Content-Type of responses to a client that asked
// for none, or for one that is not XML (XEP-0124 §7.1).
const boshContent = "text/xml; charset=utf-8"

// responseContent is the Content-Type of the responses of a session whose
// creation request's 'content' attribute is v: v, which they MUST carry
// (XEP-0124 §7.1), when it is an XML media type, else boshContent. No
// other type is given: a browser led to POST a session's request could
// render its answer, which carries what others sent, as HTML.
func responseContent(v string) string {
	typ, params, err := mime.ParseMediaType(v)
	if err != nil || typ != "text/xml" && typ != "application/xml" && !strings.HasSuffix(typ, "+xml") {
		return boshContent
	}
	if c := mime.FormatMediaType(typ, params); c != "" {
		return c
	}
	return boshContent
}

// useContent has the response w carry the Content-Type of session s.
func useContent(w http.ResponseWriter, s *boshSession) {
	w.Header().Set("Content-Type", s.content)
}

// boshReply writes a response, with the Content-Type of its session if
// useContent set it, else boshContent.
func boshReply(w http.ResponseWriter, status int, body []byte) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", boshContent)
	}
	w.WriteHeader(status)
	w.Write(body)
}
