-- The XEP-0153 hash of each vCard's photo (hex SHA-1 of its BINVAL; ''
-- when it has none), read at an account's first presence so that the
-- server can put it into the account's presence (XEP-0398) without
-- loading the photo. NULL for vCards stored before this column: the
-- hash is then computed from the vCard.
ALTER TABLE vcards ADD COLUMN photo_hash text;
