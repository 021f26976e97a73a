-- The message of the day of each host (XEP-0133 §4.24), and the accounts
-- that got the current one: each gets it once, at its next login.
CREATE TABLE motd (
	host   text        PRIMARY KEY,
	body   text        NOT NULL,
	set_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE motd_seen (
	domain   text NOT NULL,
	username text NOT NULL,
	PRIMARY KEY (domain, username),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
