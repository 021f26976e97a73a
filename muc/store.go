package muc

import (
	"context"
	"time"
)

// RoomConfig is a room's configuration (XEP-0045 §10.2), as the owner
// sets it with the muc#roomconfig form. Stores keep it as JSON.
type RoomConfig struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Public rooms are listed in the service's disco#items.
	Public bool `json:"public"`
	// Persistent rooms outlive their last occupant and restarts.
	Persistent bool `json:"persistent"`
	// MembersOnly rooms admit members, admins and owners only.
	MembersOnly bool `json:"members_only"`
	// Moderated rooms give visitors no voice.
	Moderated bool `json:"moderated"`
	// Password, if not empty, must be given to join.
	Password string `json:"password,omitempty"`
	// MaxUsers bounds the occupants; owners and admins may always join.
	MaxUsers int `json:"max_users"`
	// WhoIs is who sees occupants' real JIDs: "moderators" or "anyone".
	WhoIs string `json:"whois"`
	// ChangeSubject lets participants, not only moderators, set the subject.
	ChangeSubject bool `json:"change_subject"`
	// AllowPM is who may send private messages to other occupants
	// (muc#roomconfig_allowpm, §7.5): "participants", "moderators",
	// "none", or anyone ("" or "anyone").
	AllowPM string `json:"allow_pm,omitempty"`
	// AllowInvites lets occupants of a members-only room invite others
	// (and so make them members); otherwise only admins and owners may.
	// In open rooms every occupant with a voice may invite.
	AllowInvites bool `json:"allow_invites,omitempty"`
	// QuietMentions stops the XEP-0452 notifications to absent members
	// who are mentioned; they are on unless an owner turns them off.
	QuietMentions bool `json:"quiet_mentions,omitempty"`
	// History is how many messages a joining occupant gets at most
	// (muc#maxhistoryfetch); nil is the service's Config.History.
	History *int `json:"history,omitempty"`
	// Unarchived rooms keep no archive (muc#roomconfig_enablearchiving
	// off): their messages have no stanza id, and the history sent on
	// join is kept in memory only, lost when the service stops.
	Unarchived bool `json:"unarchived,omitempty"`
}

// allowPMValues are the values of muc#roomconfig_allowpm.
var allowPMValues = []string{"anyone", "participants", "moderators", "none"}

// allowPM is cfg.AllowPM with its default.
func (cfg RoomConfig) allowPM() string {
	if cfg.AllowPM == "" {
		return "anyone"
	}
	return cfg.AllowPM
}

// mayPM reports whether an occupant with role may send private messages.
func (cfg RoomConfig) mayPM(role string) bool {
	switch cfg.allowPM() {
	case "participants":
		return role == Participant || role == Moderator
	case "moderators":
		return role == Moderator
	case "none":
		return false
	}
	return true
}

// historyLength is how many messages cfg's room sends on join, at most
// max (the service's bound).
func (cfg RoomConfig) historyLength(max int) int {
	if cfg.History == nil {
		return max
	}
	return min(*cfg.History, max)
}

// StoredRoom is a room as a Store keeps it.
type StoredRoom struct {
	Name               string
	Config             RoomConfig
	Subject, SubjectBy string
	// SubjectByID is the XEP-0421 occupant id of whoever set the
	// subject; "" when unknown.
	SubjectByID string
	// Affiliations maps bare JIDs to owner, admin, member or outcast.
	Affiliations map[string]string
	// Nicks maps affiliated bare JIDs to the nicknames they registered
	// (XEP-0045 §7.10).
	Nicks map[string]string
	// VCard is the room's XEP-0054 <vCard/>, serialised; nil for none.
	VCard []byte
}

// Message is one message of a room's archive.
type Message struct {
	// ID is the archive id and XEP-0359 stanza id, drawn with NextIDs
	// before the message is written.
	ID    int64
	Stamp time.Time
	// Room is the room's name (its JID's localpart).
	Room string
	// Nick is the occupant's nickname, Sender its real bare JID.
	Nick, Sender string
	OriginID     string
	// Body is the text that full-text searches look in.
	Body string
	// Stanza is the message as broadcast, without 'to' and stanza-id.
	Stanza []byte
}

// Query selects messages of one room's archive; zero values mean no
// restriction, ids are exclusive bounds.
type Query struct {
	Start, End        time.Time
	AfterID, BeforeID int64
	IDs               []int64
	// Nick keeps the messages sent under that nickname (XEP-0313 'with'
	// room@service/nick); Sender those of that real bare JID.
	Nick, Sender string
	// Text is a XEP-0431 full-text search (package mam/fulltext).
	Text string
	// Max is the page size; Last asks for the last Max messages.
	Max  int
	Last bool
}

// Page is one answer to a Query, oldest first.
type Page struct {
	Messages []Message
	// Complete is true when nothing further matches in the query's
	// direction.
	Complete bool
}

// Store keeps rooms and their archives. storage/postgres implements it.
// Not found is storage.ErrNotFound, wrapped.
type Store interface {
	// Rooms returns every room of service.
	Rooms(ctx context.Context, service string) ([]StoredRoom, error)
	// SaveRoom creates or replaces a room with its affiliations.
	SaveRoom(ctx context.Context, service string, r StoredRoom) error
	// DeleteRoom deletes a room, its affiliations and its archive.
	DeleteRoom(ctx context.Context, service, name string) error
	// DeleteAffiliations deletes the affiliations of the bare JID jid,
	// and with them its registered nicknames, in every room of service.
	DeleteAffiliations(ctx context.Context, service, jid string) error
	// DeleteTemporary deletes the rooms of service that are not
	// persistent, as DeleteRoom would, and returns how many.
	DeleteTemporary(ctx context.Context, service string) (int, error)
	// NextIDs reserves n archive ids, in increasing order, each greater
	// than any reserved before.
	NextIDs(ctx context.Context, n int) ([]int64, error)
	// Write archives msgs, each with its ID, Stamp and Room set, in one
	// transaction. Messages of rooms that do not exist (any more) are
	// left out.
	Write(ctx context.Context, service string, msgs []Message) error
	// Query returns one page of the room's archive. Ids named in the
	// query that are not in it fail with storage.ErrNotFound.
	Query(ctx context.Context, service, name string, q Query) (Page, error)
	// Retract, in one transaction, replaces the archived message id of
	// the room by tombstone (XEP-0424, XEP-0425), clearing its body and
	// its words (its id, stamp, sender and origin id stay), and archives
	// retraction, the message announcing it, with its ID and Stamp. A
	// message not in that room's archive is storage.ErrNotFound.
	Retract(ctx context.Context, service, name string, id int64, tombstone []byte, retraction Message) error
	// Secret returns the deployment's secret, from which the service
	// derives its key for occupant ids (XEP-0421).
	Secret(ctx context.Context) ([]byte, error)
}
