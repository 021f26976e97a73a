// Package s2s federates xmppd with other XMPP servers (RFC 6120 server
// streams). It accepts the streams other servers open to the local
// domains and opens streams to theirs, one per pair of domains, both
// encrypted with STARTTLS. A peer proves its domain by a certificate that
// verifies for it (SASL EXTERNAL, XEP-0178, or a dialback key believed on
// the certificate, XEP-0344), or else with Server Dialback (XEP-0220, keys
// as in XEP-0185): by a key that the domain's own server confirms on a
// connection of its own. Config.SecureAuth refuses the latter.
//
// A stream carries stanzas both ways when both servers agree to it
// (XEP-0288, bidi.go). Incoming stanzas are accepted only for the domain
// pairs a stream has authenticated, and go to the router; the router hands stanzas for other
// domains to Server.Route, which queues them for the pair's stream and
// bounces them with remote-server-not-found or remote-server-timeout when
// the remote server cannot be reached.
package s2s
