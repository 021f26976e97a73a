-- The XEP-0421 occupant id of whoever set a room's subject, sent with the
-- subject to each occupant entering; NULL when unknown (a subject set
-- before this column, or set by no occupant).
ALTER TABLE muc_rooms ADD COLUMN subject_by_id text;
