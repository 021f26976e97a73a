-- An invitation a user made for a friend (XEP-0401 §5.1) names its
-- inviter, a local account: the account it creates and the inviter are
-- then subscribed to each other. Invitations made by the operator have
-- none. An inviter's invitations go with the account.
ALTER TABLE invites ADD COLUMN inviter text;
ALTER TABLE invites ADD FOREIGN KEY (domain, inviter) REFERENCES accounts ON DELETE CASCADE;
