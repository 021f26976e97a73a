-- An administrator's account invitation (XEP-0401 §5.4, the
-- urn:xmpp:invite#create-account command) may name the username the
-- invited person gets: only that username can be registered with the
-- token, and nobody else may register it while the token is unused and
-- valid (§6.2: the server MUST reserve it until the token expires).
ALTER TABLE invites ADD COLUMN username text;
CREATE INDEX invites_username ON invites (domain, username) WHERE username IS NOT NULL AND used_by IS NULL;
