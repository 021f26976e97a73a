// Package muc implements XEP-0045: Multi-User Chat, as a service on a
// domain of its own (conference.<host>): rooms created by joining, locked
// until configured, temporary or persistent (kept by a Store), occupants
// with roles and affiliations, groupchat with XEP-0359 stanza ids, and a
// room archive queried with XEP-0313 as package mam parses it (filters,
// RSM, flip-page, XEP-0431 full-text search), written in batches across
// rooms (writer.go). With it come mediated invitations (XEP-0045 §7.8.2),
// voice requests (§7.13, §8.6), IQs forwarded to occupants and XEP-0410
// self-ping, the occupant list in disco#items, reserved nicknames
// (§7.2.4), room vCards, a per-occupant flood limit, XEP-0421 occupant
// ids, XEP-0452 mention notifications for absent members (XEP-0372
// references), and XEP-0425 moderated retraction with tombstones in the
// archive.
//
// Concurrency: each room has its own lock, held while it handles one
// stanza, including giving a message its archive id and queueing it to
// the occupants' sessions (which never blocks), so every occupant sees
// the room's events in one order; the archive is written off the lock,
// in batches across rooms (writer.go). Lock order: room.mu, then
// Service.mu; room.mu, then the writer's locks. Service.mu guards
// the room table, the index of joined sessions and the count of
// persistent rooms each user owns (owned.go) only, and is never held
// while taking a room's lock (except a room not yet in the table) nor
// while calling the store or the router.
package muc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of XEP-0045 and of the specifications it relies on.
const (
	NS           = "http://jabber.org/protocol/muc"
	NSUser       = NS + "#user"
	NSAdmin      = NS + "#admin"
	NSOwner      = NS + "#owner"
	NSRoomConfig = NS + "#roomconfig"
	NSRoomInfo   = NS + "#roominfo"
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSData       = "jabber:x:data"
	NSDelay      = "urn:xmpp:delay"
	// NSLegacyDelay is XEP-0091, which XEP-0203 replaced.
	NSLegacyDelay = "jabber:x:delay"
	NSSID         = "urn:xmpp:sid:0"
	NSMAM         = "urn:xmpp:mam:2"
	NSForward     = "urn:xmpp:forward:0"
	NSRSM         = "http://jabber.org/protocol/rsm"
	NSPing        = "urn:xmpp:ping"
	// NSSelfPing announces XEP-0410 self-ping answered by the room.
	NSSelfPing = NS + "#self-ping-optimization"
	// NSStableID says the room keeps the ids of the messages it reflects,
	// by which clients recognise their own.
	NSStableID = NS + "#stable_id"
)

// Defaults for Config fields left zero.
const (
	DefaultHistory  = 20
	DefaultMaxUsers = 200
	DefaultMaxPage  = 250
	// DefaultMaxOwnedRooms is the default of Config.MaxOwnedRooms.
	DefaultMaxOwnedRooms = 100
	// DefaultMaxVCardBytes is the default of Config.MaxVCardBytes, the
	// default of vcard.max_bytes.
	DefaultMaxVCardBytes = 64 << 10
)

// timeout bounds one store call, so a slow database fails one stanza.
const timeout = 10 * time.Second

// Config is what one service needs.
type Config struct {
	// Domain is the service's domain, such as conference.example.org.
	Domain string
	// Store keeps rooms and archives.
	Store Store
	// History is how many messages a joining occupant gets at most.
	History int
	// MaxUsers is the occupant limit of new rooms, and the highest an
	// owner may set.
	MaxUsers int
	// MaxPage is the most messages one archive page returns.
	MaxPage int
	// MaxVCardBytes is the largest serialised room vCard (XEP-0054)
	// accepted.
	MaxVCardBytes int
	// BatchRows is the most messages one archive write stores; 0 means
	// DefaultBatchRows.
	BatchRows int
	// Queue is how many messages may wait to be archived; beyond it a
	// groupchat message fails with resource-constraint. 0 means
	// DefaultQueue.
	Queue int
	// MaxOwnedRooms is how many persistent rooms one user may own; an
	// owner's making one more persistent is refused. 0 means
	// DefaultMaxOwnedRooms.
	MaxOwnedRooms int
	// FloodRate is how many messages per second one occupant may send
	// to a room (groupchat, private, invitations and voice requests) in
	// the long run; FloodBurst how
	// many at once (0: DefaultFloodBurst). Beyond them a message is
	// refused with resource-constraint (type wait). A FloodRate of 0 sets
	// no limit.
	FloodRate  float64
	FloodBurst int
	// Deferred leaves the rooms in the store until Load: for a service
	// that one node of a cluster runs at a time (cluster.Singleton).
	Deferred bool
	// Logger receives storage failures; nil discards them.
	Logger *slog.Logger
}

// Validate fills in defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Store == nil {
		return errors.New("muc: no store")
	}
	if _, err := jid.New("", c.Domain, ""); err != nil || c.Domain == "" {
		return fmt.Errorf("muc: invalid service domain %q", c.Domain)
	}
	for _, f := range []struct {
		p   *int
		def int
	}{{&c.History, DefaultHistory}, {&c.MaxUsers, DefaultMaxUsers}, {&c.MaxPage, DefaultMaxPage},
		{&c.MaxVCardBytes, DefaultMaxVCardBytes}, {&c.BatchRows, DefaultBatchRows}, {&c.Queue, DefaultQueue},
		{&c.MaxOwnedRooms, DefaultMaxOwnedRooms}} {
		if *f.p == 0 {
			*f.p = f.def
		}
		if *f.p < 0 {
			return fmt.Errorf("muc: %d must be positive", *f.p)
		}
	}
	if c.FloodBurst == 0 {
		c.FloodBurst = DefaultFloodBurst
	}
	if c.FloodRate < 0 || c.FloodBurst < 0 {
		return fmt.Errorf("muc: flood limit %g/s, burst %d, must be positive", c.FloodRate, c.FloodBurst)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Service is one multi-user chat service: the router's component for
// its domain.
type Service struct {
	cfg    Config
	r      *router.Router
	domain jid.JID
	oidKey []byte // derives occupant ids (XEP-0421)
	w      *writer
	relay  *relay // to occupants of other servers
	screen screen // filters what goes straight to local sessions

	mu     sync.Mutex                 // guards rooms, joined and owned; a leaf lock
	rooms  map[string]*room           // by localpart
	joined map[string]map[string]bool // real full JID -> room names
	owned  ownedRooms                 // for Config.MaxOwnedRooms
}

var _ router.Component = (*Service)(nil)

// New validates cfg, reads the key of occupant ids, loads the rooms
// (Load) unless cfg.Deferred, and starts the archive's writer; Close
// stops it.
func New(ctx context.Context, r *router.Router, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, r: r, domain: jid.MustParse(cfg.Domain),
		rooms: map[string]*room{}, joined: map[string]map[string]bool{}, owned: newOwnedRooms()}
	secret, err := cfg.Store.Secret(ctx)
	if err != nil {
		return nil, fmt.Errorf("muc: reading the secret of occupant ids: %w", err)
	}
	s.oidKey = occupantKey(secret, cfg.Domain)
	if !cfg.Deferred {
		if err := s.Load(ctx); err != nil {
			return nil, err
		}
	}
	s.w = newWriter(cfg.Store, cfg.Domain, cfg.BatchRows, cfg.Queue, cfg.Logger)
	go s.w.run()
	s.screen = screen{r: r, log: cfg.Logger}
	s.relay = newRelay(r, cfg.Logger)
	go s.relay.run()
	return s, nil
}

// Load deletes the temporary rooms a previous run left, which lost their
// occupants with it, and replaces the rooms in memory by the persistent
// rooms of the store, without occupants.
func (s *Service) Load(ctx context.Context) error {
	if _, err := s.cfg.Store.DeleteTemporary(ctx, s.cfg.Domain); err != nil {
		return err
	}
	stored, err := s.cfg.Store.Rooms(ctx, s.cfg.Domain)
	if err != nil {
		return err
	}
	rooms := make(map[string]*room, len(stored))
	for _, sr := range stored {
		rm, err := s.newRoom(sr.Name)
		if err != nil {
			s.cfg.Logger.Error("skipping a stored room", "room", sr.Name, "err", err)
			continue
		}
		rm.cfg, rm.subject, rm.subjectBy, rm.subjectByID, rm.vcard = sr.Config, sr.Subject, sr.SubjectBy, sr.SubjectByID, sr.VCard
		rm.avatars = avatarHashes(rm.vcard)
		for j, a := range sr.Affiliations {
			rm.affs[j] = a
		}
		maps.Copy(rm.nicks, sr.Nicks)
		rooms[rm.name] = rm
	}
	owned := newOwnedRooms()
	for _, rm := range rooms {
		owned.set(rm.name, rm.persistentOwners())
	}
	s.mu.Lock()
	s.rooms, s.joined, s.owned = rooms, map[string]map[string]bool{}, owned
	s.mu.Unlock()
	return nil
}

// Stopping tells every occupant, before the server ends the client
// streams, that they leave their rooms because the service is shutting
// down: their own unavailable presence with status 332 (XEP-0045 §9.x,
// "system shutdown"). The rooms themselves are kept. Occupants of other
// servers are told through the relay, which is closed here: it has
// routed what it held before the server streams end, and routes nothing
// afterwards.
func (s *Service) Stopping() {
	s.eachRoom(func(rm *room) {
		for _, o := range rm.occupants {
			s.deliver(o, rm.presenceOf(o, "unavailable", true, nil, "332", "110"))
		}
	})
	s.relay.close()
}

// eachRoom calls f with each room in memory, locked: each in turn,
// never two at once.
func (s *Service) eachRoom(f func(rm *room)) {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, rm := range s.rooms {
		rooms = append(rooms, rm)
	}
	s.mu.Unlock()
	for _, rm := range rooms {
		rm.mu.Lock()
		f(rm)
		rm.mu.Unlock()
	}
}

// Close writes the messages still waiting for the archive and stops the
// writer, and routes what waits for occupants of other servers; groupchat
// fails afterwards.
func (s *Service) Close() {
	s.w.close()
	s.relay.close()
}

// AccountDeleted forgets the account bare in every room, before the
// account is deleted: its affiliations and registered nicknames, in
// memory (ForgetAccount) and in the store, so that a new account of the
// same name is no owner, admin or member of the rooms the old one was. A
// room it owned alone is left without an owner.
func (s *Service) AccountDeleted(ctx context.Context, bare jid.JID) error {
	s.ForgetAccount(bare)
	return s.cfg.Store.DeleteAffiliations(ctx, s.cfg.Domain, bare.Bare().String())
}

// ForgetAccount drops the affiliations and registered nicknames of the
// deleted account bare from the rooms in memory; in a cluster, the node
// that deleted it has the node running the rooms call it.
func (s *Service) ForgetAccount(bare jid.JID) {
	key := bare.Bare().String()
	s.eachRoom(func(rm *room) {
		rm.setAffiliation(key, None)
		s.indexOwners(rm)
	})
}

// Register routes the service's domain to s and has it forget sessions
// that end without leaving their rooms.
func (s *Service) Register() { s.RegisterAs(s) }

// RegisterAs is Register with c, which wraps s, routed the domain
// instead, such as the cluster's Singleton of s.
func (s *Service) RegisterAs(c router.Component) {
	s.r.AddComponent(s.cfg.Domain, c)
	s.r.OnUnbind(s.unbound)
}

// Route handles a stanza addressed to the service or one of its rooms.
func (s *Service) Route(ctx context.Context, from, to jid.JID, st *xmlstream.Element) {
	if to.Localpart() == "" {
		if st.Name.Local == stanza.IQ {
			s.serviceIQ(ctx, from, to, st)
		} else if st.Name.Local == stanza.Message {
			s.reply(ctx, st, stanza.ServiceUnavailable, "")
		}
		return
	}
	switch st.Name.Local {
	case stanza.Presence:
		s.presence(ctx, from, to, st)
	case stanza.Message:
		s.message(ctx, from, to, st)
	case stanza.IQ:
		s.roomIQ(ctx, from, to, st)
	}
}

// reply answers st with an error from its 'to' (RFC 6120 §8.3).
func (s *Service) reply(ctx context.Context, st *xmlstream.Element, condition, text string) {
	if stanza.IsError(st) || (st.Name.Local == stanza.IQ && st.Attr("type") == "result") {
		return
	}
	s.route(ctx, stanza.ErrorReply(st, condition, text))
}

// lookup returns the room name, locked, or nil. With create, a missing
// room is made (locked, empty, not yet stored) and created is true.
func (s *Service) lookup(name string, create bool) (rm *room, created bool) {
	for {
		s.mu.Lock()
		rm = s.rooms[name]
		if rm == nil {
			if !create {
				s.mu.Unlock()
				return nil, false
			}
			var err error
			if rm, err = s.newRoom(name); err != nil {
				s.mu.Unlock()
				return nil, false
			}
			rm.mu.Lock() // not yet shared: cannot deadlock
			s.rooms[name] = rm
			s.mu.Unlock()
			return rm, true
		}
		s.mu.Unlock()
		rm.mu.Lock()
		if !rm.gone {
			return rm, false
		}
		rm.mu.Unlock() // destroyed meanwhile: look again
	}
}

// forget removes rm, whose lock the caller holds, from the room table.
func (s *Service) forget(rm *room) {
	rm.gone = true
	s.mu.Lock()
	if s.rooms[rm.name] == rm {
		delete(s.rooms, rm.name)
		s.owned.set(rm.name, nil)
	}
	s.mu.Unlock()
}

// track records that the session real is (or, with in false, no longer
// is) an occupant of the room name.
func (s *Service) track(real jid.JID, name string, in bool) {
	k := real.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if in {
		if s.joined[k] == nil {
			s.joined[k] = map[string]bool{}
		}
		s.joined[k][name] = true
		return
	}
	delete(s.joined[k], name)
	if len(s.joined[k]) == 0 {
		delete(s.joined, k)
	}
}

// unbound removes a session that ended from every room it was in.
func (s *Service) unbound(session jid.JID) {
	s.mu.Lock()
	var names []string
	for n := range s.joined[session.String()] {
		names = append(names, n)
	}
	s.mu.Unlock()
	for _, n := range names {
		if rm, _ := s.lookup(n, false); rm != nil {
			s.leave(context.Background(), rm, session, nil)
			rm.mu.Unlock()
		}
	}
}

// save stores rm, whose lock the caller holds.
func (s *Service) save(ctx context.Context, rm *room) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.cfg.Store.SaveRoom(ctx, s.cfg.Domain, rm.stored()); err != nil {
		s.cfg.Logger.Error("saving a room", "room", rm.jid.String(), "err", err)
		return err
	}
	s.indexOwners(rm)
	return nil
}
