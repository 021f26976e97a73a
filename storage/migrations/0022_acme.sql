-- Certificates obtained by ACME (RFC 8555) and what obtaining them needs,
-- shared by every node: the account key of each ACME directory, the
-- issued certificate and key of each domain, and the challenge answers
-- (HTTP-01 or TLS-ALPN-01) waiting for the certificate authority to fetch
-- them from any node.
CREATE TABLE acme_accounts (
	directory  text        PRIMARY KEY,
	key_pem    text        NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE acme_certificates (
	domain     text        PRIMARY KEY,
	cert_pem   text        NOT NULL,
	key_pem    text        NOT NULL,
	not_after  timestamptz NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE acme_challenges (
	token             text        PRIMARY KEY,
	domain            text        NOT NULL,
	key_authorization text        NOT NULL,
	created_at        timestamptz NOT NULL DEFAULT now()
);

-- TLS-ALPN-01 answers are looked up by the domain in the handshake.
CREATE INDEX acme_challenges_domain ON acme_challenges (domain);

-- Orders that failed in a row, per domain, and when the next may start:
-- every node waits, so the authority's limit on failed validations holds
-- for the cluster.
CREATE TABLE acme_failures (
	domain   text        PRIMARY KEY,
	failures integer     NOT NULL,
	retry_at timestamptz NOT NULL,
	reason   text        NOT NULL
);
