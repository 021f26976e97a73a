package auth

import (
	"bytes"
	"context"
	"errors"
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

	conv      *scram.ServerConversation
	stepCtx   context.Context // the ctx of the running Step, for the lookup
	lookupErr error           // a store failure seen during the lookup
	fake      bool            // the credential in use is a fake one
	localpart string          // normalized username of the attempt
	authzid   string
	binding   string // channel-binding type in use

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
	e.srv.throttle.reset(e.throttleKey)
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

// lookup is the xdg-go credential callback. It never reports an unknown
// user (the library would then answer early); a store failure is recorded.
func (e *Exchange) lookup(username string) (scram.StoredCredentials, error) {
	_, c, err := e.credential(e.stepCtx, username, e.mech.hash)
	if err != nil {
		e.lookupErr = err
		return scram.StoredCredentials{}, err
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
		StoredKey:  c.StoredKey,
		ServerKey:  c.ServerKey,
	}, nil
}

// scramFirst handles the client-first message.
func (e *Exchange) scramFirst(ctx context.Context, in []byte) ([]byte, bool, error) {
	msg := string(in)
	if !utf8.ValidString(msg) {
		return e.fail(ctx, &Failure{Condition: MalformedRequest, Text: "invalid UTF-8"})
	}
	flag, _, ok := strings.Cut(msg, ",")
	if !ok {
		return e.fail(ctx, &Failure{Condition: MalformedRequest})
	}
	var cb scram.ChannelBinding
	switch {
	case flag == "n" || flag == "y":
		if e.mech.plus {
			return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding required"})
		}
		if flag == "y" && len(e.bindings) > 0 {
			return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding was offered"})
		}
	case strings.HasPrefix(flag, "p="):
		if !e.mech.plus {
			return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding used without -PLUS"})
		}
		for _, b := range e.bindings {
			if string(b.Type) == flag[2:] {
				cb = b
			}
		}
		if !cb.IsSupported() {
			return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "unsupported channel binding type"})
		}
		e.binding = string(cb.Type)
	default:
		return e.fail(ctx, &Failure{Condition: MalformedRequest})
	}
	if !e.mech.plus && len(e.bindings) > 0 {
		// Lets the library reject "y" too: PLUS was advertised.
		cb = e.bindings[0]
	}

	srv, err := e.mech.hash.gen.NewServer(e.lookup)
	if err != nil {
		return e.fail(ctx, &Failure{Condition: TemporaryAuthFailure, Err: err})
	}
	if cb.IsSupported() {
		e.conv = srv.NewConversationWithChannelBinding(cb)
	} else {
		e.conv = srv.NewConversation()
	}
	e.stepCtx = ctx
	out, err := e.conv.Step(msg)
	e.stepCtx = nil
	if e.lookupErr != nil {
		return e.fail(ctx, &Failure{Condition: TemporaryAuthFailure, Err: e.lookupErr})
	}
	if err != nil {
		switch out {
		case scram.ErrServerDoesSupportChannelBinding, scram.ErrChannelBindingNotSupported, scram.ErrUnsupportedChannelBindingType:
			return e.fail(ctx, &Failure{Condition: NotAuthorized})
		}
		return e.fail(ctx, &Failure{Condition: MalformedRequest})
	}
	e.authzid = e.conv.AuthzID()
	return []byte(out), false, nil
}

// scramFinal handles the client-final message.
func (e *Exchange) scramFinal(ctx context.Context, in []byte) ([]byte, bool, error) {
	out, err := e.conv.Step(string(in))
	switch {
	case err == nil && e.conv.Valid() && !e.fake:
		return e.succeed(ctx, []byte(out))
	case out == "":
		// The library gives no server error for messages it cannot parse.
		return e.fail(ctx, &Failure{Condition: MalformedRequest})
	case out == scram.ErrChannelBindingsDontMatch:
		return e.fail(ctx, &Failure{Condition: NotAuthorized, Text: "channel binding mismatch"})
	default:
		return e.fail(ctx, &Failure{Condition: NotAuthorized})
	}
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
	return e.succeed(ctx, nil)
}
