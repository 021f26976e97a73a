-- Invitations to register an account (XEP-0401 tokens, redeemed with
-- XEP-0445 or a registration form field). A token is single-use: used_by
-- holds the username it created, and stays set when that account is
-- deleted, so that the token can never be redeemed again. There is no
-- foreign key to accounts for the same reason.

CREATE TABLE invites (
	token      text        PRIMARY KEY,
	domain     text        NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_by    text,
	used_at    timestamptz
);

CREATE INDEX invites_domain ON invites (domain, created_at);
