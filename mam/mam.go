// Package mam implements XEP-0313: Message Archive Management for the
// accounts of the server, with XEP-0059 result set paging, XEP-0359 stanza
// ids, XEP-0431 full-text search, XEP-0334 storage hints, and XEP-0424
// retraction tombstones and XEP-0308 correction links in the archive.
//
// Every archivable one-to-one message to a local account is stored in the
// sender's archive (when the sender is local) and in the recipient's,
// before it is delivered or kept offline; the copy delivered carries a
// <stanza-id/> with the recipient's archive id. Archive returns only
// after the commit (DESIGN.md §4), but without one database round trip per
// message: the writer groups what every session submitted while it was
// busy into one statement (group commit), inserts several such batches at
// once and commits them in order, see writer.go.
//
// Lock order: none. The writer owns its batch; the module holds no lock
// while calling the store or the router.
package mam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"xmppd/router"
)

// Namespaces and features.
const (
	// NS is the namespace of XEP-0313 version 2.
	NS = "urn:xmpp:mam:2"
	// NS1 is the namespace of XEP-0313 version 1.
	NS1 = "urn:xmpp:mam:1"
	// FeatureExtended announces before-id, after-id, ids and flip-page.
	FeatureExtended = NS + "#extended"
	// NSSID is the namespace of XEP-0359 stanza ids.
	NSSID = "urn:xmpp:sid:0"
	// NSRSM is the namespace of XEP-0059 result set management.
	NSRSM = "http://jabber.org/protocol/rsm"
	// NSForward is the namespace of XEP-0297 forwarding.
	NSForward = "urn:xmpp:forward:0"
	// NSDelay is the namespace of XEP-0203 delayed delivery.
	NSDelay = "urn:xmpp:delay"
	// NSData is the namespace of XEP-0004 data forms.
	NSData = "jabber:x:data"
	// NSHints is the namespace of XEP-0334 message processing hints.
	NSHints = "urn:xmpp:hints"
	// NSFulltext is the namespace of XEP-0431 full-text search.
	NSFulltext = "urn:xmpp:fulltext:0"
	// NSRetract is the namespace of XEP-0424 message retraction.
	NSRetract = "urn:xmpp:message-retract:1"
	// NSCorrect is the namespace of XEP-0308 message correction.
	NSCorrect = "urn:xmpp:message-correct:0"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxPage     = 250
	DefaultBatchRows   = 1000
	DefaultQueue       = 8192
	DefaultExpireBatch = 1000
	DefaultExpireEvery = time.Hour
)

// timeout bounds one store call, so a slow database fails the one
// message or query instead of holding its session.
const timeout = 10 * time.Second

// Config is what the module needs.
type Config struct {
	// Store keeps the archives.
	Store Store
	// MaxPage is the most messages one page returns, whatever the client
	// asks; 0 means DefaultMaxPage.
	MaxPage int
	// RetentionDays deletes messages older than this many days; 0 keeps
	// them forever.
	RetentionDays int
	// BatchRows is the most rows one group commit writes; 0 means
	// DefaultBatchRows.
	BatchRows int
	// Queue is how many messages may wait for the writer; beyond it
	// Archive fails with resource-constraint. 0 means DefaultQueue.
	Queue int
	// ExpireBatch is the most rows one retention statement deletes, and
	// ExpireEvery how often the retention job runs.
	ExpireBatch int
	ExpireEvery time.Duration
	// Clustered is set when other processes (a cluster's other nodes)
	// write the same archives: each batch then reserves its ids only
	// once the others' batches have committed (Store.Insert with nil
	// ids), so that ids grow in commit order across them too.
	Clustered bool
	// Logger receives storage failures; nil discards them.
	Logger *slog.Logger
}

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("mam: no store")
	}
	for _, f := range []struct {
		p   *int
		def int
	}{{&c.MaxPage, DefaultMaxPage}, {&c.BatchRows, DefaultBatchRows}, {&c.Queue, DefaultQueue}, {&c.ExpireBatch, DefaultExpireBatch}} {
		if *f.p == 0 {
			*f.p = f.def
		}
		if *f.p < 0 {
			return fmt.Errorf("mam: %d must be positive", *f.p)
		}
	}
	if c.RetentionDays < 0 {
		return fmt.Errorf("mam: retention of %d days must not be negative", c.RetentionDays)
	}
	if c.ExpireEvery <= 0 {
		c.ExpireEvery = DefaultExpireEvery
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Module is the message archive: the router's Archiver and the handler
// of archive queries and preferences.
type Module struct {
	cfg Config
	r   *router.Router
	w   *writer

	stop      context.CancelFunc
	done      sync.WaitGroup
	closeOnce sync.Once
}

var _ router.Archiver = (*Module)(nil)

// Archived returns how many messages the archive has stored since the
// start (a message kept for both its sender and its recipient counts
// once), and how many wait for the writer.
func (m *Module) Archived() (stored uint64, waiting int) {
	return m.w.archived.Load(), len(m.w.queue)
}

// New validates cfg and starts the archive's writer and, with a
// retention, its retention job. Register installs it on a router; Close
// stops it.
func New(r *router.Router, cfg Config) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	m := &Module{cfg: cfg, r: r, stop: stop}
	m.w = newWriter(cfg.Store, cfg.BatchRows, cfg.Queue, cfg.Logger)
	m.w.clustered = cfg.Clustered
	m.done.Add(1)
	go func() { defer m.done.Done(); m.w.run(ctx) }()
	if cfg.RetentionDays > 0 {
		m.done.Add(1)
		go func() { defer m.done.Done(); m.retain(ctx) }()
	}
	return m, nil
}

// Register installs m as r's archiver, answers archive queries, form
// requests and preferences on accounts, and announces the features.
func (m *Module) Register() {
	m.r.SetArchiver(m)
	// Version 1 (XEP-0313 0.5/0.6, still spoken by older clients) has
	// the same elements in its own namespace; answers use the query's.
	for _, ns := range []string{NS, NS1} {
		m.r.HandleIQ(router.ToAccount, "set", ns, "query", m.handleQuery)
		m.r.HandleIQ(router.ToAccount, "get", ns, "query", m.handleForm)
		m.r.HandleIQ(router.ToAccount, "get", ns, "prefs", m.handlePrefs)
		m.r.HandleIQ(router.ToAccount, "set", ns, "prefs", m.handlePrefs)
	}
	m.r.HandleIQ(router.ToAccount, "get", NS, "metadata", m.handleMetadata)
	// Clients look for the archive on their account's bare JID (XEP-0313
	// §7) and, some of them, on the server.
	for _, f := range []string{NS, NS1, FeatureExtended, NSSID, NSFulltext, NSRetract, NSRetract + "#tombstone"} {
		m.r.AddFeature(f)
		m.r.AddAccountFeature(f)
	}
}

// Close stops the retention job and the writer; messages already
// submitted are written first. Archive fails afterwards.
func (m *Module) Close() {
	m.closeOnce.Do(func() {
		m.stop()
		m.done.Wait()
	})
}
