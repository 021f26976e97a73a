-- Profiles: vCards (XEP-0054) and private XML storage (XEP-0049). Both hold
-- serialised XML written by xmppd itself, and both go with their account.

-- One vCard per account: the <vCard xmlns='vcard-temp'/> element as sent.
CREATE TABLE vcards (
	domain     text        NOT NULL,
	username   text        NOT NULL,
	vcard      bytea       NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, username),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);

-- Private XML of an account, one row per namespace of the stored elements.
CREATE TABLE private_storage (
	domain     text        NOT NULL,
	username   text        NOT NULL,
	namespace  text        NOT NULL,
	data       bytea       NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, username, namespace),
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
