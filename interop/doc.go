// Package interop drives xmppd with third-party XMPP clients.
//
// The tests run whole servers (package xmpptest) and real client libraries
// in separate processes: slixmpp through /usr/bin/python3 (Debian's
// python3-slixmpp), and Converse.js, the browser client, in Debian's
// headless Chromium driven by playwright-core (interop/browser, installed
// with npm ci by the test when absent). Federation is tested against a
// private Prosody (Debian's prosody and lua-unbound). A machine without
// them fails the tests rather than skipping them silently; set
// XMPPD_SKIP_INTEROP=1 to skip on purpose.
package interop
