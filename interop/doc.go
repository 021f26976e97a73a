// Package interop drives xmppd with third-party XMPP clients.
//
// The tests run whole servers (package xmpptest) and real client libraries
// in separate processes: slixmpp through /usr/bin/python3 (Debian's
// python3-slixmpp); xmpp.js (@xmpp/client, interop/xmppjs), which logs in
// with SASL2 and Bind 2, under node; and Converse.js, the browser client,
// in Debian's headless Chromium driven by playwright-core
// (interop/browser); and Debian's go-sendxmpp, a command-line Go client
// (messages, HTTP upload, rooms, OpenPGP for XMPP). The npm packages are installed with npm ci by the
// tests when absent. Federation is tested against a
// private Prosody (Debian's prosody and lua-unbound). A machine without
// them fails the tests rather than skipping them silently; set
// XMPPD_SKIP_INTEROP=1 to skip on purpose.
package interop
