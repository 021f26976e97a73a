-- Rosters, presence subscriptions and last presence (RFC 6121, XEP-0237,
-- XEP-0012). Everything belongs to an account and goes with it.

-- Roster versions (XEP-0237) come from one sequence, so a version is never
-- reused, not even by an account deleted and created again.
CREATE SEQUENCE roster_version_seq;

CREATE TABLE roster_versions (
	domain   text   NOT NULL,
	username text   NOT NULL,
	version  bigint NOT NULL,
	PRIMARY KEY (domain, username),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);

CREATE TABLE roster_items (
	domain       text    NOT NULL,
	username     text    NOT NULL,
	contact      text    NOT NULL, -- bare JID
	name         text    NOT NULL DEFAULT '',
	subscription text    NOT NULL DEFAULT 'none' CHECK (subscription IN ('none', 'to', 'from', 'both')),
	ask          boolean NOT NULL DEFAULT false, -- pending out
	approved     boolean NOT NULL DEFAULT false, -- pre-approved (RFC 6121 §3.4)
	groups       text[]  NOT NULL DEFAULT '{}',
	PRIMARY KEY (domain, username, contact),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);

-- Who has a given contact on their roster: probes at login.
CREATE INDEX roster_items_contact ON roster_items (contact);

-- Subscription requests not yet answered (pending in), with the request as
-- received, to deliver again at the next login.
CREATE TABLE roster_pending_in (
	domain      text        NOT NULL,
	username    text        NOT NULL,
	contact     text        NOT NULL,
	stanza      text        NOT NULL,
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, username, contact),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);

-- The last unavailable presence of an account and when it was sent.
CREATE TABLE last_presence (
	domain   text        NOT NULL,
	username text        NOT NULL,
	status   text        NOT NULL DEFAULT '',
	stanza   text        NOT NULL,
	at       timestamptz NOT NULL,
	PRIMARY KEY (domain, username),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
