-- Accounts and their SCRAM credentials (RFC 5802, RFC 7677): one row per
-- hash function, holding only what a SCRAM server needs. Never a password,
-- never the salted password.

CREATE TABLE accounts (
	domain     text        NOT NULL,
	username   text        NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, username)
);

CREATE TABLE account_credentials (
	domain     text    NOT NULL,
	username   text    NOT NULL,
	hash       text    NOT NULL,
	salt       bytea   NOT NULL,
	iterations integer NOT NULL CHECK (iterations > 0),
	stored_key bytea   NOT NULL,
	server_key bytea   NOT NULL,
	PRIMARY KEY (domain, username, hash),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
