// Package caps implements XEP-0115: Entity Capabilities, for the
// server's own client sessions. It reads the <c/> each session announces
// in its available presence, learns the features behind it by asking the
// client (disco#info, XEP-0030) unless the same verification string was
// answered and verified before, and tells what each session supports —
// for instance which PEP nodes it wants notifications of (XEP-0163 §4.1,
// "+notify").
//
// Answers whose SHA-1 verification string matches are kept by that
// string (at most maxCached of them), so a client announcing it again is
// not asked; others (legacy caps without a hash, other hashes, a wrong
// string) are used for the session that gave them only.
package caps

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0115 and of the disco#info queries it relies on.
const (
	NS     = "http://jabber.org/protocol/caps"
	NSInfo = "http://jabber.org/protocol/disco#info"
)

// maxCached bounds the verified verification strings kept in memory.
const maxCached = 10000

// queryTimeout bounds how long a client may take to answer disco#info.
const queryTimeout = 10 * time.Second

// Features is the set of features a session announced.
type Features map[string]bool

// Has reports whether feature is among fs; a nil set has none.
func (fs Features) Has(feature string) bool { return fs[feature] }

// session is what a session announced.
type session struct {
	ver      string   // node#ver of its last <c/>, "" for none
	features Features // nil until known
	asking   bool     // a disco#info query for ver is under way
}

// Tracker follows the capabilities of the router's sessions. It is safe
// for concurrent use.
type Tracker struct {
	r   *router.Router
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session // by full JID
	verified map[string]Features // by SHA-1 verification string
	changed  []func(ctx context.Context, session jid.JID)
}

// New returns a Tracker that follows the sessions of r.
func New(r *router.Router, log *slog.Logger) *Tracker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{r: r, log: log, sessions: map[string]*session{}, verified: map[string]Features{}}
	r.OnAvailable(t.available)
	r.OnUnbind(t.forget)
	r.AddFilter(unavailable{t})
	return t
}

// forget drops what the session j announced.
func (t *Tracker) forget(j jid.JID) {
	t.mu.Lock()
	delete(t.sessions, j.String())
	t.mu.Unlock()
}

// unavailable is the router filter through which the tracker sees a
// session become unavailable without ending its stream. Its next
// available presence is initial again (RFC 6121 §4.2.2), and what it
// announces then is news again, which PEP answers with the last items
// (XEP-0163 §4.3.3). It stops nothing.
type unavailable struct{ t *Tracker }

func (f unavailable) Outbound(_ context.Context, from, _ jid.JID, st *xmlstream.Element) (bool, *xmlstream.Element) {
	if st.Name.Local == "presence" && st.Attr("type") == "unavailable" && st.Attr("to") == "" {
		f.t.forget(from)
		f.t.r.SetMarks(from, notifyMark, nil)
	}
	return true, nil
}

func (unavailable) Inbound(context.Context, jid.JID, jid.JID, *xmlstream.Element) bool { return true }

// OnChange registers f to be called, on its own goroutine or the
// presence's, when a session's features became known or changed.
func (t *Tracker) OnChange(f func(ctx context.Context, session jid.JID)) {
	t.changed = append(t.changed, f)
}

// Features returns what the session j announced, or nil while it is not
// known (no <c/>, or the client has not answered yet).
func (t *Tracker) Features(j jid.JID) Features {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sessions[j.String()]; s != nil {
		return s.features
	}
	return nil
}

// notifySuffix marks the features that ask for a node's notifications
// (XEP-0163 §4.1).
const notifySuffix = "+notify"

// notifyMark prefixes the router marks (router.Router.Mark) that name the
// nodes whose notifications a session asked for: so that the other nodes
// of a cluster, which never see the session's features, know them too.
const notifyMark = "notify "

// Wants reports whether the session j, on this node or another of the
// cluster, asked for the notifications of the publish-subscribe node
// ('node+notify').
func (t *Tracker) Wants(j jid.JID, node string) bool {
	return t.r.HasMark(j, notifyMark+node)
}

// Notify returns the nodes whose notifications the session j asked for.
func (t *Tracker) Notify(j jid.JID) []string { return t.Features(j).Notify() }

// Notify returns the nodes whose notifications fs ask for.
func (fs Features) Notify() []string {
	var nodes []string
	for f := range fs {
		if node, ok := strings.CutSuffix(f, notifySuffix); ok && node != "" {
			nodes = append(nodes, node)
		}
	}
	return nodes
}

// Key returns the node#ver of the capabilities c (a <c/>) announces, ""
// for a nil c or one without a verification string: what tells one
// announcement from another.
func Key(c *xmlstream.Element) string {
	key, _, _ := announced(c)
	return key
}

// announced returns the node#ver key of the capabilities c announces
// ("" for none or nil), its verification string, and whether its hash
// is SHA-1.
func announced(c *xmlstream.Element) (key, ver string, sha1 bool) {
	if c == nil || c.Attr("ver") == "" {
		return "", "", false
	}
	ver = c.Attr("ver")
	return c.Attr("node") + "#" + ver, ver, c.Attr("hash") == "sha-1"
}

// available reads the caps of a session's available presence.
func (t *Tracker) available(ctx context.Context, j jid.JID, st *xmlstream.Element) {
	key, ver, sha1 := announced(st.Child(NS, "c"))
	t.mu.Lock()
	s := t.sessions[j.String()]
	if s == nil {
		if key == "" {
			// Nothing announced, nothing to remember: most sessions
			// (bots, load) cost no entry.
			t.mu.Unlock()
			return
		}
		s = &session{}
		t.sessions[j.String()] = s
	}
	if s.ver == key && (key == "" || s.features != nil || s.asking) {
		t.mu.Unlock()
		return // nothing new
	}
	s.ver, s.features = key, nil
	if known := t.verified[ver]; sha1 && known != nil {
		s.features = known
	}
	s.asking = key != "" && s.features == nil
	asking := s.asking // s is shared again once unlocked
	t.mu.Unlock()
	switch {
	case key == "":
		t.r.SetMarks(j, notifyMark, nil) // it announces nothing now
		return
	case asking:
		go t.ask(j, key, ver, sha1)
	default:
		t.notify(ctx, j)
	}
}

// ask queries the session j for the features behind its node#ver key and
// records them if the session still announces that key.
func (t *Tracker) ask(j jid.JID, key, ver string, sha1 bool) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	server, err := jid.New("", j.Domainpart(), "")
	if err != nil {
		return
	}
	fs, err := t.query(ctx, server, j, key, ver, sha1)
	if err != nil {
		t.log.Debug("entity capabilities not answered", "jid", j.String(), "node", key, "err", err)
		// No query is under way any more: the session's next presence
		// announcing key asks again.
		t.mu.Lock()
		if s := t.sessions[j.String()]; s != nil && s.ver == key && s.features == nil {
			s.asking = false
		}
		t.mu.Unlock()
		return
	}
	t.mu.Lock()
	s := t.sessions[j.String()]
	current := s != nil && s.ver == key
	if current {
		s.features, s.asking = fs, false
	}
	t.mu.Unlock()
	if current {
		t.notify(ctx, j)
	}
}

// NotifyOf returns the nodes whose notifications the capabilities c (a
// <c/> of XEP-0115) that entity announced ask for: by an earlier answer
// with the same SHA-1 verification string, or else by entity's answer to
// a disco#info query sent from the address from (an account's bare JID
// for a contact of the account: clients answer their contacts). It
// returns none for a nil c or one without a verification string.
func (t *Tracker) NotifyOf(ctx context.Context, from, entity jid.JID, c *xmlstream.Element) ([]string, error) {
	key, ver, sha1 := announced(c)
	if key == "" {
		return nil, nil
	}
	t.mu.Lock()
	known := t.verified[ver]
	t.mu.Unlock()
	if sha1 && known != nil {
		return known.Notify(), nil
	}
	fs, err := t.query(ctx, from, entity, key, ver, sha1)
	return fs.Notify(), err
}

// query asks entity, from the address from, for the features behind its
// node#ver key, and keeps them by ver when they verify against it.
func (t *Tracker) query(ctx context.Context, from, entity jid.JID, key, ver string, sha1 bool) (Features, error) {
	info, err := t.r.Query(ctx, "get", from, entity, xmlstream.NewElement(NSInfo, "query", "node", key))
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, errors.New("caps: an empty disco#info answer")
	}
	fs := Features{}
	for _, f := range info.ChildElements() {
		if f.Name.Space == NSInfo && f.Name.Local == "feature" {
			fs[f.Attr("var")] = true
		}
	}
	if got, ok := verification(info); sha1 && ok && got == ver {
		t.mu.Lock()
		if len(t.verified) >= maxCached {
			for k := range t.verified { // forget one, any
				delete(t.verified, k)
				break
			}
		}
		t.verified[ver] = fs
		t.mu.Unlock()
	}
	return fs, nil
}

// notify marks the session j with the nodes it wants notifications of
// and tells the OnChange functions that its features are known.
func (t *Tracker) notify(ctx context.Context, j jid.JID) {
	t.r.SetMarks(j, notifyMark, t.Notify(j))
	for _, f := range t.changed {
		f(ctx, j)
	}
}
