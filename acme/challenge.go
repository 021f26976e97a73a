package acme

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// ChallengePath is where the authority fetches HTTP-01 challenge answers
// (RFC 8555, section 8.3), followed by the token.
const ChallengePath = "/.well-known/acme-challenge/"

// maxToken bounds the tokens looked up; RFC 8555 tokens are 43 characters.
const maxToken = 128

// maxLookups bounds the challenge lookups under way at once, and
// lookupTimeout each one.
const (
	maxLookups    = 4
	lookupTimeout = 2 * time.Second
)

// Handler answers the authority's HTTP-01 requests with the answers any
// node stored, and passes other requests to next (404 when nil).
func (m *Manager) Handler(next http.Handler) http.Handler {
	if next == nil {
		next = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, ChallengePath)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !isToken(token) {
			http.NotFound(w, r)
			return
		}
		answer, err := m.lookup(r.Context(), func(ctx context.Context) (string, error) { return m.cfg.Store.Challenge(ctx, token) })
		if errors.Is(err, errBusy) {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			if last := m.lookupFailed.Load(); time.Since(time.Unix(last, 0)) > time.Minute && m.lookupFailed.CompareAndSwap(last, time.Now().Unix()) {
				m.log.Error("acme: reading challenge answers (logged once a minute)", "err", err)
			}
			http.Error(w, "challenge answers are unavailable", http.StatusServiceUnavailable)
			return
		}
		if answer == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte(answer))
	})
}

// errBusy is lookup's refusal when maxLookups run already.
var errBusy = errors.New("acme: too many challenge lookups at once")

// lookup reads a challenge answer with read, at most maxLookups at once
// and each within lookupTimeout: anyone may ask, so the asking must not
// cost the database more.
func (m *Manager) lookup(ctx context.Context, read func(context.Context) (string, error)) (string, error) {
	select {
	case m.lookups <- struct{}{}:
		defer func() { <-m.lookups }()
	default:
		return "", errBusy
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	return read(ctx)
}

// isToken reports whether s has the form of a token: base64url characters
// (RFC 8555, section 8.1).
func isToken(s string) bool {
	if s == "" || len(s) > maxToken {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
