-- Offline messages (XEP-0160): messages of type normal or chat kept for an
-- account that had no available resource, until it next comes online. The
-- stanza is stored as xmppd serialised it, with its namespace declared, so
-- it parses back on its own. Messages go with their account.
CREATE TABLE offline_messages (
	id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	domain   text        NOT NULL,
	username text        NOT NULL,
	stanza   bytea       NOT NULL,
	stamp    timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);

-- Delivery reads an account's messages in id order; the quota counts them;
-- the cascade from accounts finds them.
CREATE INDEX offline_messages_owner ON offline_messages (domain, username, id);
