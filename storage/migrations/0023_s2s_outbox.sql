-- Messages for other servers that a local client's stream acknowledged
-- and that have not yet been written to the remote server's stream: after
-- a crash, they are sent when the server starts again. claimer is the
-- process (or cluster node) whose queue holds them.
CREATE TABLE s2s_outbox (
	id      bigserial   PRIMARY KEY,
	local   text        NOT NULL,
	remote  text        NOT NULL,
	stanza  bytea       NOT NULL,
	claimer text        NOT NULL,
	stamp   timestamptz NOT NULL DEFAULT now()
);
