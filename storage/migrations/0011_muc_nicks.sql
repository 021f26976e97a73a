-- Nicknames registered with a room (XEP-0045 §7.10): a member's reserved
-- nickname, kept with the affiliation; '' for none. No two users of one
-- room may hold the same one.
ALTER TABLE muc_affiliations ADD COLUMN nick text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX muc_affiliations_nick ON muc_affiliations (service, name, nick) WHERE nick <> '';
