-- FAST authentication tokens (XEP-0484): the tokens issued to each client
-- of an account, the client known by a hash of its SASL2 user agent id.
-- A client has at most its token in use and a newer one not yet used.
-- The token is the HMAC key of the HT mechanism, so it is kept as given;
-- tokens go with their account and when its password changes.
CREATE TABLE fast_tokens (
	domain    text        NOT NULL,
	username  text        NOT NULL,
	client    bytea       NOT NULL, -- SHA-256 of the user agent id
	token     text        NOT NULL,
	mechanism text        NOT NULL, -- the HT mechanism the token is bound to
	issued    timestamptz NOT NULL,
	expiry    timestamptz NOT NULL,
	used      boolean     NOT NULL DEFAULT false,
	PRIMARY KEY (domain, username, client, token),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
