package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xdg-go/scram"
	"mellium.im/xmpp/jid"
)

// maxMessageLen bounds one client message. A localpart is at most 1023
// bytes; the rest of a SCRAM or PLAIN message is far shorter.
const maxMessageLen = 8192

// Exchange is one SASL authentication attempt. It is not safe for
// concurrent use.
type Exchange struct {
	srv         *Server
	mech        mechanism
	domain      string
	bindings    []scram.ChannelBinding
	throttleKey string

	started   bool // a non-empty client message was consumed
	emptySent bool // an empty challenge answered an empty first message
	finished  bool

	ssdp string // the XEP-0474 hash of what the connection offered

	first       clientFirst // the client-first message
	serverFirst string
	nonce       string     // client and server nonce
	cred        Credential // the credential in use
	cbData      []byte     // the channel-binding data in use
	fake        bool       // the credential in use is a fake one
	localpart   string     // normalized username of the attempt
	authzid     string
	binding     string // channel-binding type in use

	username string // set on success
}

// Mechanism returns the mechanism name of the exchange.
func (e *Exchange) Mechanism() string { return e.mech.name }

// ChannelBinding returns the channel-binding type used by a successful
// -PLUS exchange, or "".
func (e *Exchange) ChannelBinding() string {
	if e.username == "" {
		return ""
	}
	return e.binding
}

// Username returns the authenticated username (normalized localpart) after
// success, and "" before.
func (e *Exchange) Username() string { return e.username }

// Grant returns what a successful exchange proved: the credential it
// used. A FAST token made for the login must not outlive that credential
// (NewToken).
func (e *Exchange) Grant() Grant {
	if e.username == "" {
		return Grant{}
	}
	return Grant{StoredKey: e.cred.StoredKey}
}

// Step consumes the client's (already base64-decoded) response and returns
// the server challenge or success data. done is true when authentication
// succeeded; out is then the additional data for <success/> (SCRAM's
// "v=..."; nil for PLAIN). On failure err is a *Failure and the exchange is
// over; failures other than temporary-auth-failure and invalid-authzid are
// delayed according to Config.FailureDelay before Step returns (the wait
// ends early when ctx is done).
//
// A first message that is empty (no initial response, or an empty one) is
// answered once with an empty challenge (out empty, done false, err nil);
// the client then sends its first message as a <response/>.
func (e *Exchange) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	if e.finished {
		return nil, false, &Failure{Condition: MalformedRequest, Text: "exchange already finished"}
	}
	if len(in) == 0 && !e.started && !e.emptySent {
		e.emptySent = true
		return nil, false, nil
	}
	if len(in) > maxMessageLen {
		return e.fail(ctx, &Failure{Condition: MalformedRequest, Text: "message too long"})
	}
	first := !e.started
	e.started = true
	switch {
	case e.mech.hash == nil:
		return e.plain(ctx, in)
	case first:
		return e.scramFirst(ctx, in)
	default:
		return e.scramFinal(ctx, in)
	}
}

// fail ends the exchange with f, after the throttling delay for the remote
// host when f counts as a failed guess.
func (e *Exchange) fail(ctx context.Context, f *Failure) ([]byte, bool, error) {
	e.finished = true
	switch f.Condition {
	case TemporaryAuthFailure, InvalidAuthzID:
	default:
		e.srv.sleep(ctx, e.srv.throttle.failure(e.throttleKey))
	}
	return nil, false, f
}

// succeed ends the exchange successfully.
func (e *Exchange) succeed(ctx context.Context, out []byte) ([]byte, bool, error) {
	if !authzidAllowed(e.authzid, e.localpart, e.domain) {
		return e.fail(ctx, &Failure{Condition: InvalidAuthzID})
	}
	e.finished = true
	e.username = e.localpart
	// A success does not clear the host's failures: else one login to
	// an account of one's own between guesses at another's would keep
	// every guess at the first delay.
	return out, true, nil
}

// authzidAllowed reports whether authzid is empty, the username or the bare
// JID username@domain.
func authzidAllowed(authzid, localpart, domain string) bool {
	if authzid == "" {
		return true
	}
	if strings.ContainsAny(authzid, "@/") {
		j, err := jid.Parse(authzid)
		return err == nil && j.Resourcepart() == "" && j.Localpart() == localpart && j.Domainpart() == domain
	}
	lp, ok := normalizeUsername(authzid, domain)
	return ok && lp == localpart
}

// credential returns the credential for username and the first hash of
// prefs the account has, or a fake one. Only store failures other than
// ErrNoSuchUser are errors.
func (e *Exchange) credential(ctx context.Context, username string, prefs ...*hashInfo) (*hashInfo, Credential, error) {
	localpart, ok := normalizeUsername(username, e.domain)
	if ok {
		e.localpart = localpart
		creds, err := e.srv.store.Credentials(ctx, e.domain, localpart)
		if err != nil && !errors.Is(err, ErrNoSuchUser) {
			return nil, Credential{}, err
		}
		for _, h := range prefs {
			for _, c := range creds {
				if h.valid(c) {
					return h, c, nil
				}
			}
		}
	} else {
		// Invalid names never exist; derive the fake from the raw name.
		localpart = username
	}
	e.fake = true
	return prefs[0], e.srv.fakeCredential(prefs[0], e.domain, localpart), nil
}

// scramFirst handles the client-first message.
func (e *Exchange) scramFirst(ctx context.Context, in []byte) ([]byte, bool, error) {
	msg := string(in)
	if !utf8.ValidString(msg) {
		return e.fail(ctx, &Failure{Condition: MalformedRequest, Text: "invalid UTF-8"})
	}
	c, ok := parseClientFirst(msg)
	if !ok {
		return e.fail(ctx, &Failure{Condition: MalformedRequest})
	}
	switch {
	case c.flag != "p" && e.mech.plus:
		return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding required"})
	case c.flag == "y" && len(e.bindings) > 0:
		return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding was offered"})
	case c.flag == "p" && !e.mech.plus:
		return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding used without -PLUS"})
	case c.flag == "p":
		i := slices.IndexFunc(e.bindings, func(b scram.ChannelBinding) bool { return string(b.Type) == c.cbType })
		if i < 0 {
			return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "unsupported channel binding type"})
		}
		e.binding, e.cbData = c.cbType, e.bindings[i].Data
	}
	_, cred, err := e.credential(ctx, c.username, e.mech.hash)
	if err != nil {
		return e.fail(ctx, &Failure{Condition: TemporaryAuthFailure, Err: err})
	}
	e.first, e.cred, e.authzid = c, cred, c.authzid
	e.serverFirst, e.nonce = serverFirst(c.nonce, cred, e.ssdp)
	return []byte(e.serverFirst), false, nil
}

// scramFinal handles the client-final message.
func (e *Exchange) scramFinal(ctx context.Context, in []byte) ([]byte, bool, error) {
	c, ok := parseClientFinal(string(in))
	if !ok {
		return e.fail(ctx, &Failure{Condition: MalformedRequest})
	}
	want := append([]byte(e.first.gs2Header), e.cbData...)
	if subtle.ConstantTimeCompare(c.binding, want) != 1 {
		return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding mismatch"})
	}
	if c.nonce != e.nonce {
		return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "nonce mismatch"})
	}
	authMessage := e.first.bare + "," + e.serverFirst + "," + c.withoutProof
	sig, ok := verifyProof(e.mech.hash, e.cred, authMessage, c.proof)
	if !ok || e.fake {
		return e.fail(ctx, &Failure{Condition: NotAuthorized})
	}
	return e.succeed(ctx, []byte("v="+base64.StdEncoding.EncodeToString(sig)))
}

// plain handles a PLAIN message: [authzid] NUL authcid NUL passwd.
func (e *Exchange) plain(ctx context.Context, in []byte) ([]byte, bool, error) {
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 ||
		!utf8.Valid(parts[0]) || !utf8.Valid(parts[1]) || !utf8.Valid(parts[2]) {
		return e.fail(ctx, &Failure{Condition: MalformedRequest})
	}
	e.authzid = string(parts[0])
	h, c, err := e.credential(ctx, string(parts[1]), plainPreference...)
	if err != nil {
		return e.fail(ctx, &Failure{Condition: TemporaryAuthFailure, Err: err})
	}
	password := string(parts[2])
	prepared, perr := preparePassword(password)
	if perr != nil {
		// Never matches (such passwords are never derived), but costs the
		// same as a real check.
		prepared = password
	}
	ok := h.verifyPassword(c, prepared)
	if !ok || perr != nil || e.fake {
		return e.fail(ctx, &Failure{Condition: NotAuthorized})
	}
	e.cred = c
	return e.succeed(ctx, nil)
}
