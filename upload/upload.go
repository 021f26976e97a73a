// Package upload implements XEP-0363: HTTP File Upload. A service on
// upload.<host> grants the host's accounts slots: a URL to PUT one file of
// the size they asked for, and the URL it is then served at by GET. The
// files are kept in the database (Store), so every node serves them.
//
// A slot's URLs hold a 128-bit random id, which is the only secret: who
// has the GET URL may fetch the file, as XEP-0363 intends. A slot must be
// used within SlotTime; a file is served until ExpireAfter has passed
// since it was put. Every account may keep at most Limits.Quota bytes of
// files and pending slots, and is granted at most Limits.SlotsPerDay
// slots in 24 hours; a request beyond MaxFileSize gets not-acceptable
// with <file-too-large/>, one beyond a limit resource-constraint.
package upload

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"mellium.im/xmpp/jid"

	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0363 and XEP-0030.
const (
	NS      = "urn:xmpp:http:upload:0"
	nsInfo  = "http://jabber.org/protocol/disco#info"
	nsItems = "http://jabber.org/protocol/disco#items"
)

// Errors a Store returns, wrapped.
var (
	// ErrQuota: the slot would take the account over its quota.
	ErrQuota = errors.New("upload quota exceeded")
	// ErrSlotLimit: the account was granted its slots of the last 24
	// hours; a SlotLimitError tells when it may have another.
	ErrSlotLimit = errors.New("upload slot limit reached")
	// ErrNoSlot: no slot of that id and name is waiting for its file.
	ErrNoSlot = errors.New("no such upload slot")
	// ErrUploaded: the slot's file was put already.
	ErrUploaded = errors.New("the file was uploaded already")
	// ErrSize: the body is not the size the slot was granted for.
	ErrSize = errors.New("the file is not the size of its slot")
	// ErrType: the upload's Content-Type is not the slot's.
	ErrType = errors.New("the file is not of its slot's content type")
)

// Slot is a granted upload.
type Slot struct {
	ID          string
	Owner       jid.JID
	Filename    string
	Size        int64
	ContentType string
}

// Limits bound what one account is granted.
type Limits struct {
	// Quota is the most bytes its files and pending slots may take.
	Quota int64
	// SlotsPerDay is the most slots it is granted in 24 hours, files
	// included; 0 sets no limit. The quota does not bound them: a slot
	// costs a row and a large object however small its file.
	SlotsPerDay int
}

// SlotLimitError is the error of a slot request beyond
// Limits.SlotsPerDay; it is ErrSlotLimit.
type SlotLimitError struct {
	// Retry is when the oldest of the day's slots turns a day old, and
	// a request may be granted again.
	Retry time.Time
}

func (e *SlotLimitError) Error() string {
	return fmt.Sprintf("%v until %s", ErrSlotLimit, e.Retry.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrSlotLimit) hold.
func (e *SlotLimitError) Is(target error) bool { return target == ErrSlotLimit }

// File is an uploaded file, as GET serves it.
type File struct {
	Size        int64
	ContentType string
	Uploaded    time.Time
}

// Store keeps slots and files.
type Store interface {
	// CreateSlot records s, unless the owner's files and pending slots
	// (requested after pendingSince) would then take more than
	// limits.Quota bytes (ErrQuota), or it was granted limits.SlotsPerDay
	// slots in the last 24 hours already (a *SlotLimitError).
	CreateSlot(ctx context.Context, s Slot, limits Limits, pendingSince time.Time) error
	// Put stores the file of the slot id named filename, requested after
	// pendingSince, from body, which holds size bytes. The size must be
	// the slot's (ErrSize), and a contentType other than "" the slot's,
	// as SameType says (ErrType): Put checks both before it reads body or
	// holds the slot, so a wrong request takes no turn of a correct one.
	// ErrNoSlot when there is no such slot, ErrUploaded when its file was
	// put already. A slot of no type takes the type FileType gives.
	Put(ctx context.Context, id, filename string, pendingSince time.Time, contentType string, size int64, body io.Reader) error
	// Get calls serve with the file of slot id named filename, put after
	// uploadedSince, and a reader of its bytes; ErrNoSlot when there is
	// none.
	Get(ctx context.Context, id, filename string, uploadedSince time.Time, serve func(File, io.Reader) error) error
	// Expire deletes files put before uploadedBefore and slots requested
	// before pendingBefore and never used, and returns how many.
	Expire(ctx context.Context, uploadedBefore, pendingBefore time.Time) (int64, error)
}

// Config configures the service of one host.
type Config struct {
	// Domain is the service's address, such as upload.example.com.
	Domain string
	// Host is the domain whose accounts may upload.
	Host string
	// BaseURL returns the URL the HTTP handler is reached at, such as
	// https://chat.example.com; it is asked for each slot.
	BaseURL     func() string
	Store       Store
	MaxFileSize int64
	Limits      Limits
	// SlotTime is how long a slot waits for its file.
	SlotTime time.Duration
	Logger   *slog.Logger
}

// Service is the upload service of one host.
type Service struct {
	cfg Config
	r   *router.Router
}

// New returns the service for cfg; Register makes it reachable.
func New(r *router.Router, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, r: r}
}

// Register routes the service's domain to s.
func (s *Service) Register() { s.r.AddComponent(s.cfg.Domain, s) }

// Route answers an IQ addressed to the service; other stanzas get
// service-unavailable, as RFC 6120 §10.4 allows.
func (s *Service) Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if stanza.IsError(st) || st.Attr("type") == "result" || st.Name.Local == stanza.Presence {
		return
	}
	reply := func(condition, text string) *xmlstream.Element { return stanza.ErrorReply(st, condition, text) }
	var answer *xmlstream.Element
	payload := st.FirstChildElement()
	switch {
	case st.Name.Local != stanza.IQ || to.Localpart() != "" || payload == nil:
		answer = reply(stanza.ServiceUnavailable, "")
	case st.Attr("type") != "get":
		answer = reply(stanza.ServiceUnavailable, "")
	case payload.Name.Space == nsInfo && payload.Name.Local == "query" && payload.Attr("node") == "":
		answer = stanza.Result(st, s.info())
	case payload.Name.Space == nsItems && payload.Name.Local == "query" && payload.Attr("node") == "":
		answer = stanza.Result(st, xmlstream.NewElement(nsItems, "query"))
	case payload.Name.Space == NS && payload.Name.Local == "request":
		answer = s.request(ctx, from, st, payload)
	default:
		answer = reply(stanza.ServiceUnavailable, "")
	}
	s.r.Route(ctx, answer)
}

// info is the service's disco#info (XEP-0363 §3, §4).
func (s *Service) info() *xmlstream.Element {
	q := xmlstream.NewElement(nsInfo, "query")
	q.AddChild(xmlstream.NewElement(nsInfo, "identity", "category", "store", "type", "file", "name", "HTTP File Upload"))
	q.AddChild(xmlstream.NewElement(nsInfo, "feature", "var", nsInfo))
	q.AddChild(xmlstream.NewElement(nsInfo, "feature", "var", NS))
	form := dataform.Form{Type: "result", Fields: []dataform.Field{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{NS}},
		{Var: "max-file-size", Values: []string{strconv.FormatInt(s.cfg.MaxFileSize, 10)}},
	}}
	return q.AddChild(form.Element())
}

// request grants a slot (XEP-0363 §4) to an account of the host.
func (s *Service) request(ctx context.Context, from jid.JID, st, req *xmlstream.Element) *xmlstream.Element {
	if from.Domainpart() != s.cfg.Host || from.Localpart() == "" {
		return stanza.ErrorReply(st, stanza.Forbidden, "only accounts of "+s.cfg.Host+" may upload here")
	}
	name, ctype := withoutBidiControls(req.Attr("filename")), req.Attr("content-type")
	size, err := strconv.ParseInt(req.Attr("size"), 10, 64)
	switch {
	case err != nil || size < 1:
		return stanza.ErrorReply(st, stanza.BadRequest, "size must be a positive number of bytes")
	case !validName(name):
		return stanza.ErrorReply(st, stanza.BadRequest, "the file name must be 1 to 255 bytes without '/', '\\\\' or control characters")
	case len(ctype) > 255 || strings.ContainsFunc(ctype, unicode.IsControl):
		return stanza.ErrorReply(st, stanza.BadRequest, "the content type is not valid")
	case size > s.cfg.MaxFileSize:
		reply := stanza.ErrorReply(st, stanza.NotAcceptable, "the file is larger than the service takes")
		max := xmlstream.NewElement(NS, "max-file-size").AddText(strconv.FormatInt(s.cfg.MaxFileSize, 10))
		reply.Child("", "error").AddChild(xmlstream.NewElement(NS, "file-too-large").AddChild(max))
		return reply
	}
	slot := Slot{ID: newID(), Owner: from.Bare(), Filename: name, Size: size, ContentType: ctype}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = s.cfg.Store.CreateSlot(sctx, slot, s.cfg.Limits, time.Now().Add(-s.cfg.SlotTime))
	var limited *SlotLimitError
	switch {
	case errors.Is(err, ErrQuota):
		return stanza.ErrorReply(st, stanza.ResourceConstraint, "the account's files would exceed its quota of "+strconv.FormatInt(s.cfg.Limits.Quota, 10)+" bytes")
	case errors.As(err, &limited):
		// XEP-0363 §5: a temporary error, with when to try again.
		reply := stanza.ErrorReply(st, stanza.ResourceConstraint, "the account may be granted "+strconv.Itoa(s.cfg.Limits.SlotsPerDay)+" upload slots in 24 hours")
		retry := limited.Retry.UTC().Truncate(time.Second).Add(time.Second)
		reply.Child("", "error").AddChild(xmlstream.NewElement(NS, "retry", "stamp", retry.Format(time.RFC3339)))
		return reply
	case err != nil:
		s.cfg.Logger.Error("granting an upload slot", "jid", from.String(), "err", err)
		return stanza.ErrorReply(st, stanza.InternalServerError, "")
	}
	u := strings.TrimSuffix(s.cfg.BaseURL(), "/") + Path + slot.ID + "/" + url.PathEscape(name)
	res := xmlstream.NewElement(NS, "slot")
	res.AddChild(xmlstream.NewElement(NS, "put", "url", u))
	res.AddChild(xmlstream.NewElement(NS, "get", "url", u))
	return stanza.Result(st, res)
}

// validName reports whether a file name is one path segment of at most
// 255 bytes of valid UTF-8 without control characters.
func validName(name string) bool {
	return name != "" && len(name) <= 255 && name != "." && name != ".." &&
		!strings.ContainsAny(name, "/\\") && !strings.ContainsFunc(name, func(r rune) bool {
		return unicode.IsControl(r) || r == unicode.ReplacementChar
	})
}

// withoutBidiControls returns name without its Unicode bidi controls
// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which can show
// a name's characters in another order than they are: "invoice\u202Efdp.exe"
// shows as "invoiceexe.pdf". They are left out rather than refused:
// clients only tell their user that an upload failed, where one with the
// name as it is, in the URL that clients and browsers take it from,
// sends the file and shows what it is. A right-to-left name still reads
// right to left: its letters carry their direction.
func withoutBidiControls(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, name)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns a random slot id of 128 bits.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// SameType reports whether an upload's content type names the slot's
// media type, whatever their case and parameters: "text/plain;
// charset=UTF-8" is "text/plain". A slot of no type takes any.
func SameType(slot, upload string) bool {
	return slot == "" || mediaType(slot) == mediaType(upload)
}

// FileType returns the content type a file put with the Content-Type
// upload into a slot of type slot is served with: the slot's, or, for a
// slot requested without one, the upload's, which XEP-0363 §6 lets the
// PUT carry, when it parses as a media type of at most 255 bytes, as a
// slot request's may be; else "".
func FileType(slot, upload string) string {
	if slot != "" {
		return slot
	}
	if _, _, err := mime.ParseMediaType(upload); err != nil || len(upload) > 255 {
		return ""
	}
	return upload
}

// mediaType returns the type/subtype of a content type, in lower case.
func mediaType(t string) string {
	t, _, _ = strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(t))
}
