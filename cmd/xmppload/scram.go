package main

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/xdg-go/scram"
)

// keyCache keeps one scram.Client per account for the whole run.
//
// The expensive part of a SCRAM login is the client's PBKDF2 (SaltedPassword
// from password, salt and iteration count); RFC 5802 §5 lets a client cache
// it. xdg-go/scram caches the derived keys inside a Client, keyed by
// KeyFactors{Salt, Iters}, but a Client is bound to one username. The
// server gives every account its own salt, so a cache shared between
// accounts would never hit: one Client per account is the whole cache, and
// each account costs one derivation per run.
type keyCache struct {
	hash     scram.HashGeneratorFcn
	password string

	mu      sync.Mutex
	clients map[string]*scram.Client
	seen    map[string]bool // user + salt + iterations already derived

	derivations atomic.Int64 // PBKDF2 runs (cache misses)
}

// newKeyCache returns a cache for mechanism (SCRAM-SHA-256 or SCRAM-SHA-1).
func newKeyCache(mechanism, password string) *keyCache {
	h := scram.SHA256
	if mechanism == "SCRAM-SHA-1" {
		h = scram.SHA1
	}
	return &keyCache{hash: h, password: password, clients: map[string]*scram.Client{}, seen: map[string]bool{}}
}

// conversation starts a SCRAM exchange for user.
func (k *keyCache) conversation(user string) (*scram.ClientConversation, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.clients[user]
	if c == nil {
		var err error
		if c, err = k.hash.NewClient(user, k.password, ""); err != nil {
			return nil, err
		}
		k.clients[user] = c
	}
	return c.NewConversation(), nil
}

// noteServerFirst counts a derivation when the server-first-message names a
// salt and iteration count not yet seen for user (the Client derives the
// keys while answering it).
func (k *keyCache) noteServerFirst(user, msg string) {
	var salt, iters string
	for _, f := range strings.Split(msg, ",") {
		switch {
		case strings.HasPrefix(f, "s="):
			salt = f[2:]
		case strings.HasPrefix(f, "i="):
			iters = f[2:]
		}
	}
	key := user + "\x00" + salt + "\x00" + iters
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.seen[key] {
		k.seen[key] = true
		k.derivations.Add(1)
	}
}
