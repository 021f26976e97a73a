-- Prosody for bench/compare.sh. The script replaces @DIR@ (its temporary
-- directory for this server) and @PORT@ (the STARTTLS client port).
-- Only what the benchmark needs: client connections on loopback, SCRAM,
-- the message archive (XEP-0313) and multi-user chat. No mod_limits, so no
-- rate limits on client connections.

pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
log = { warn = "@DIR@/prosody.log" }

modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "posix", "mam" }
modules_disabled = { "s2s" }

c2s_ports = { @PORT@ }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = {}
s2s_ports = {}
tcp_backlog = 1024
c2s_require_encryption = true

ssl = { certificate = "@DIR@/cert.pem", key = "@DIR@/key.pem" }

authentication = "internal_hashed"
password_hash = "SHA-256"

-- SQLite in the server's own process, like ejabberd's Mnesia.
storage = "sql"
sql = { driver = "SQLite3", database = "prosody.sqlite" }

-- Archive every message, keep it for the whole run.
default_archive_policy = true
archive_expires_after = "never"

VirtualHost "localhost"

Component "conference.localhost" "muc"
	muc_room_locking = false
	restrict_room_creation = false
