-- The roster access model of PEP nodes (XEP-0060 §4.5, XEP-0163 §5):
-- the groups of the owner's roster whose contacts may read the node
-- (pubsub#roster_groups_allowed), sorted, without duplicates. access_model
-- may now also be 'roster'.
ALTER TABLE pep_nodes ADD COLUMN roster_groups text[] NOT NULL DEFAULT '{}';
