package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/c2s"
	"xmppd/cluster"
	"xmppd/config"
	"xmppd/mam"
	"xmppd/offline"
	"xmppd/pep"
	"xmppd/push"
	"xmppd/roster"
	"xmppd/router"
	"xmppd/storage/postgres"
	"xmppd/upload"
)

// wiring is what feature modules are built from.
type wiring struct {
	cfg      config.Config
	log      *slog.Logger
	pool     *pgxpool.Pool
	router   *router.Router
	accounts *postgres.Accounts

	// registrar serves in-band registration on unauthenticated streams;
	// when registration is off it refuses it (service-unavailable).
	registrar c2s.Registrar
	// invitePage serves the invitation links' pages; nil when
	// registration is off.
	invitePage http.Handler
	// accountDeleted are called, in order, before an account is removed,
	// so that modules can tell contacts (RFC 6121 §3) and clean up.
	accountDeleted []func(ctx context.Context, bare jid.JID) error
	// rosters is the roster module, which others ask about subscriptions.
	rosters *roster.Module
	// stopping are told, in order, that the server is about to end every
	// client stream, while those streams still take stanzas.
	stopping []func()
	// closers stop modules' background work, in order, once the client
	// streams have ended and before the database closes.
	closers []func()
	// uploads serves the files of HTTP upload on the HTTP listener; nil
	// when upload is off.
	uploads *upload.Files
	// push notifies app servers of messages for clients that are away;
	// nil when push is off.
	push *push.Module
	// cluster joins this node with others; nil for a node alone.
	cluster *cluster.Cluster
	// pepService is the accounts' PEP service, for modules that publish
	// in an account's name.
	pepService *pep.Service
	// mam keeps the accounts' message archives; nil when archiving is off.
	mam *mam.Module
	// offlineMessages keeps the messages of accounts that are offline.
	offlineMessages *offline.Handler
	// httpAddrs returns the HTTP and HTTPS listeners' addresses once they
	// listen (nil for one that does not).
	httpAddrs func() (plain, secure net.Addr)
}

// close runs the closers.
func (w *wiring) close() {
	for _, c := range w.closers {
		c()
	}
}

// modules registers the feature modules with the router. The order of the
// router's filters is the order of these calls.
func (w *wiring) modules(ctx context.Context) error {
	for _, wire := range []func(context.Context) error{
		w.roster,       // wire_roster.go: RFC 6121 roster, subscriptions, presence; XEP-0012
		w.blocking,     // wire_blocking.go: XEP-0191 (a router filter), using the roster
		w.disco,        // wire_disco.go: XEP-0030 service discovery, using the roster
		w.pep,          // wire_pep.go: XEP-0163 personal eventing, XEP-0115 entity capabilities
		w.profile,      // wire_profile.go: XEP-0054 vCards, XEP-0398 avatar conversion (a router filter), XEP-0049 private storage, XEP-0402 bookmark conversion
		w.registration, // wire_registration.go: XEP-0077, invites
		w.offline,      // wire_offline.go: XEP-0160 offline messages, XEP-0334 hints
		w.carbons,      // wire_carbons.go: XEP-0280 message carbons
		w.pushes,       // wire_push.go: XEP-0357 push notifications
		w.archive,      // wire_archive.go: XEP-0313 message archive, XEP-0359 stanza ids
		w.muc,          // wire_muc.go: XEP-0045 multi-user chat on conference.<host>
		w.upload,       // wire_upload.go: XEP-0363 HTTP file upload on upload.<host>
		w.admin,        // wire_admin.go: XEP-0050 ad-hoc commands, XEP-0133 administration
	} {
		if err := wire(ctx); err != nil {
			return err
		}
	}
	return nil
}
