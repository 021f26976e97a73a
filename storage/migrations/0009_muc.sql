-- Multi-user chat (XEP-0045): rooms, their affiliations and their archive
-- (XEP-0313 on the room's JID). Every room has a row while it exists, so
-- its archived messages go with it; temporary rooms are deleted when their
-- last occupant leaves and, left over from a crash, when the service starts.
CREATE TABLE muc_rooms (
	service    text        NOT NULL, -- conference.<host>
	name       text        NOT NULL, -- the room JID's localpart
	persistent boolean     NOT NULL,
	config     jsonb       NOT NULL, -- muc.RoomConfig
	subject    text        NOT NULL DEFAULT '',
	subject_by text        NOT NULL DEFAULT '', -- the nick that set it
	created    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (service, name)
);

CREATE TABLE muc_affiliations (
	service     text NOT NULL,
	name        text NOT NULL,
	jid         text NOT NULL, -- bare
	affiliation text NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast')),
	PRIMARY KEY (service, name, jid),
	FOREIGN KEY (service, name) REFERENCES muc_rooms ON DELETE CASCADE
);

-- The room archive. It is not archive_messages: rows there belong to
-- accounts (foreign key, preferences), and rooms are not accounts.
CREATE TABLE muc_messages (
	id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- the XEP-0359 stanza id
	service   text        NOT NULL,
	name      text        NOT NULL,
	stamp     timestamptz NOT NULL DEFAULT now(),
	nick      text        NOT NULL,
	sender    text        NOT NULL, -- the occupant's real bare JID
	origin_id text        NOT NULL DEFAULT '',
	body      text        NOT NULL DEFAULT '',
	stanza    bytea       NOT NULL, -- from room@service/nick, without 'to' and stanza-id
	FOREIGN KEY (service, name) REFERENCES muc_rooms ON DELETE CASCADE
);

-- History on join and archive pages are range scans of this index.
CREATE INDEX muc_messages_room ON muc_messages (service, name, id);
CREATE INDEX muc_messages_stamp ON muc_messages (service, name, stamp);
