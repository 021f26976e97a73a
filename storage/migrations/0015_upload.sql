-- HTTP file upload (XEP-0363): a slot is granted to an account for one
-- file of a given name and size; the file's bytes, once put, are a large
-- object, so that every xmppd node sharing the database serves them. The
-- id is the secret in the slot's URLs.
CREATE TABLE uploads (
	id           text        PRIMARY KEY,
	domain       text        NOT NULL,
	username     text        NOT NULL,
	filename     text        NOT NULL,
	size         bigint      NOT NULL,
	content_type text        NOT NULL,
	requested    timestamptz NOT NULL DEFAULT now(),
	uploaded     timestamptz,            -- NULL until the file is put
	content      oid,                    -- the large object holding the file
	FOREIGN KEY (domain, username) REFERENCES accounts ON DELETE CASCADE
);
CREATE INDEX uploads_owner ON uploads (domain, username);
CREATE INDEX uploads_requested ON uploads (requested);

-- A file goes with its row, however the row goes (expiry, or its
-- account's deletion).
CREATE FUNCTION uploads_unlink() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.content IS NOT NULL THEN
		PERFORM lo_unlink(OLD.content);
	END IF;
	RETURN OLD;
END
$$;
CREATE TRIGGER uploads_unlink AFTER DELETE ON uploads FOR EACH ROW EXECUTE FUNCTION uploads_unlink();
