-- One random secret shared by every node of the deployment. It derives the
-- fake SCRAM salts shown for unknown accounts, which must stay the same
-- across restarts so that they cannot be told from real ones. The first
-- node to start creates it.

CREATE TABLE server_secret (
	id     boolean PRIMARY KEY DEFAULT true CHECK (id),
	secret bytea   NOT NULL CHECK (length(secret) >= 32)
);
