-- Personal eventing (XEP-0163): every account is a publish-subscribe
-- service of its own. A node holds the account's items of one kind (its
-- avatar, its OMEMO device list, its bookmarks), newest last; both go with
-- their account.
CREATE TABLE pep_nodes (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	domain         text    NOT NULL,
	username       text    NOT NULL,
	node           text    NOT NULL,
	-- The node's configuration (XEP-0060 §16.4.3, pubsub#node_config).
	access_model   text    NOT NULL,  -- open, presence or whitelist
	max_items      integer NOT NULL,
	persist_items  boolean NOT NULL,
	send_last      text    NOT NULL,  -- never, on_sub or on_sub_and_presence
	notify_retract boolean NOT NULL,
	title          text    NOT NULL DEFAULT '',
	UNIQUE (domain, username, node),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);

CREATE TABLE pep_items (
	node_id   bigint      NOT NULL REFERENCES pep_nodes ON DELETE CASCADE,
	item_id   text        NOT NULL,
	-- The item's payload as published: one serialised element.
	payload   bytea       NOT NULL,
	-- Publish order: a republished item moves to the end.
	seq       bigint      GENERATED ALWAYS AS IDENTITY,
	published timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (node_id, item_id)
);
CREATE INDEX pep_items_order ON pep_items (node_id, seq);
