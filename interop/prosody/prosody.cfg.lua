-- Prosody for interop/prosody_s2s_test.go: a private server, run as an
-- ordinary process from the test's temporary directory, that federates
-- with one xmppd. The test replaces the @...@ placeholders:
--
--   @DIR@             the temporary directory (data, log, certificate)
--   @DOMAIN@          Prosody's own domain
--   @C2S_PORT@        Prosody's STARTTLS client port on 127.0.0.1
--   @S2S_PORT@        Prosody's server port on 127.0.0.1
--   @XMPPD_DOMAIN@    xmppd's domain
--   @S2S_DIRECT_TLS@  Prosody's direct TLS server port (XEP-0368), if any
--   @XMPPD_SRV@       the SRV record of xmppd's domain: _xmpp-server._tcp,
--                     or _xmpps-server._tcp for its direct TLS listener
--   @SECURE_AUTH@     true when both sides have certificates from the
--                     test's certificate authority, ca.pem
--   @CA@              a comment naming that authority, or none
--
-- How Prosody finds xmppd without real DNS: Prosody resolves a remote
-- domain as RFC 6120 §3.2 says, an SRV lookup of _xmpp-server._tcp.<domain>
-- and then A/AAAA of the target, through libunbound (lua-unbound; without
-- it Prosody falls back to its own resolver, which cannot be told any of
-- this). The "unbound" table below is handed to libunbound as it is:
-- "local-zone: <domain> static" makes libunbound answer every question
-- about xmppd's domain itself, never asking a real DNS server, and the one
-- "local-data:" record is the SRV record pointing at xmppd's listener
-- (_xmpps-server._tcp for direct TLS, which Prosody then must use: with no
-- _xmpp-server._tcp record and no address, it has nothing to fall back on). Its
-- target, localhost, is answered by libunbound's built-in localhost zone.
-- So Prosody takes its ordinary SRV path, on any port, with no /etc/hosts
-- entry, no port 5269, no network and no Prosody plugin. (The other ways
-- are worse: an A record alone, from a hosts file, leaves Prosody on port
-- 5269, which may be taken and makes runs collide; Prosody has no option
-- mapping a domain to an address, and a plugin replacing its resolver
-- would patch internals and skip the SRV lookup real federation does.)

pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
-- Everything, so that a failing test can show what Prosody did.
log = { debug = "@DIR@/prosody.log" }

-- Prosody runs in the foreground (-F), never as root: a test running as
-- root starts it as the prosody user. (mod_posix, for signals, loads
-- itself.)
-- mam: interop/prosody_import_test.go moves archives to xmppd.
-- s2s_bidi: streams between the servers carry stanzas both ways (XEP-0288).
-- smacks: stream management (XEP-0198), which Prosody also does on server
-- streams authenticated by certificate.
modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco", "ping", "pep", "mam", "s2s_bidi", "smacks" }

c2s_ports = { @C2S_PORT@ }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = {}
s2s_ports = { @S2S_PORT@ }
s2s_interfaces = { "127.0.0.1" }
s2s_direct_tls_ports = { @S2S_DIRECT_TLS@ }
-- No HTTP modules are loaded; keep the HTTP server off too.
http_ports = {}
https_ports = {}

c2s_require_encryption = true
-- Streams to and from xmppd use STARTTLS. With self-signed certificates,
-- which neither side can verify, authentication is by dialback
-- (XEP-0220), which s2s_secure_auth = true would forbid; with
-- certificates from the test's CA (@CA@) it is by certificate, and
-- @SECURE_AUTH@ = true demands it.
s2s_require_encryption = true
s2s_secure_auth = @SECURE_AUTH@
-- xmppd listens on 127.0.0.1 only: do not try ::1 first.
use_ipv6 = false

-- The certificate the test made for @DOMAIN@, and the authorities it
-- trusts (its CA's, or that certificate itself); "certificates" is where
-- Prosody would look for more.
ssl = { certificate = "@DIR@/cert.pem", key = "@DIR@/key.pem", cafile = "@DIR@/ca.pem" }
certificates = "@DIR@"

authentication = "internal_hashed"
password_hash = "SHA-256"
storage = "internal"

unbound = {
	hoststxt = false;
	options = {
		["local-zone:"] = "@XMPPD_DOMAIN@. static";
		["local-data:"] = "@XMPPD_SRV@";
	};
}

VirtualHost "@DOMAIN@"
