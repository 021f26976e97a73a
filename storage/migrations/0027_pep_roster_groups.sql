-- The roster access model of PEP nodes (XEP-0060 §4.5, XEP-0163 §5):
-- the groups of the owner's roster whose contacts may read the node
-- (pubsub#roster_groups_allowed), sorted, without duplicates. access_model
-- may now also be 'roster'.
ALTER TABLE pep_nodes ADD COLUMN roster_groups text[] NOT NULL DEFAULT '{}';

-- Explicit subscriptions to PEP nodes (XEP-0060 §6.1, XEP-0163 §5),
-- beside the implicit ones of presence subscriptions: the subscribed
-- JID, bare or full, as the subscriber gave it.
CREATE TABLE pep_subscriptions (
	node_id    bigint NOT NULL REFERENCES pep_nodes ON DELETE CASCADE,
	subscriber text   NOT NULL,
	PRIMARY KEY (node_id, subscriber)
);
