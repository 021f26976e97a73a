-- Push notification registrations (XEP-0357): the app server nodes an
-- account's clients enabled, with the publish-options form to send with
-- each notification. They go with their account.
CREATE TABLE push_registrations (
	domain   text        NOT NULL,
	username text        NOT NULL,
	service  text        NOT NULL, -- the app server's JID
	node     text        NOT NULL,
	options  bytea,                -- <x xmlns='jabber:x:data'/> as sent, or NULL
	created  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, username, service, node),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
