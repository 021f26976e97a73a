-- Blocklists (XEP-0191): one row per JID an account has blocked. The JID is
-- kept in its canonical string form (user@domain/resource, user@domain,
-- domain/resource or domain), as the blocking module parsed it.

CREATE TABLE blocklist (
	domain   text NOT NULL,
	username text NOT NULL,
	jid      text NOT NULL,
	PRIMARY KEY (domain, username, jid),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
