// Package auth implements the server side of SASL (RFC 6120 §6, RFC 4422)
// for xmppd: SCRAM-SHA-1/-256/-512 and their -PLUS variants (RFC 5802,
// RFC 7677, channel bindings tls-exporter RFC 9266 and tls-server-end-point
// RFC 5929, advertised per XEP-0440, and the XEP-0474 downgrade-protection
// hash in every server-first message), PLAIN (RFC 4616), and FAST tokens
// (XEP-0484) with the HT-SHA-256 mechanisms (draft-schmaus-kitten-sasl-ht)
// when Config.Tokens is set.
//
// Passwords are never stored: an account holds one [Credential] per hash
// (salt, iteration count, StoredKey, ServerKey), made by [DeriveCredentials].
// PLAIN is verified against the same SCRAM credential by recomputing the
// StoredKey from the offered password.
//
// A failed login for an unknown account is indistinguishable from a wrong
// password: SCRAM answers the client-first message with a server-first
// message built from fake credentials derived deterministically from the
// server secret, the domain and the (normalized) username, and fails at the
// final step with the same condition; PLAIN runs a PBKDF2 of the same cost.
//
// Repeated failures from one remote host are slowed down: see
// [Config.FailureDelay].
package auth
