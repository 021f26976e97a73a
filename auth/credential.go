package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"slices"

	"github.com/xdg-go/scram"
	"github.com/xdg-go/stringprep"
)

// Hash names used in Credential.Hash.
const (
	HashSHA1   = "SHA-1"
	HashSHA256 = "SHA-256"
	HashSHA512 = "SHA-512"
)

// DefaultIterations is the PBKDF2 iteration count used for new credentials
// of every hash (RFC 7677 recommends at least 4096; most clients refuse
// fewer).
const DefaultIterations = 4096

// SaltLen is the length in bytes of the random salt DeriveCredentials makes,
// and of the fake salts shown for unknown accounts.
const SaltLen = 16

// Credential is what is stored for one password and one hash: never the
// password, never the salted password.
type Credential struct {
	Hash       string // HashSHA1, HashSHA256 or HashSHA512
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// hashInfo describes one supported SCRAM hash.
type hashInfo struct {
	name string // Credential.Hash
	mech string // SCRAM mechanism name without -PLUS
	new  func() hash.Hash
	gen  scram.HashGeneratorFcn
	size int
}

var (
	hashSHA1   = &hashInfo{HashSHA1, "SCRAM-SHA-1", sha1.New, scram.SHA1, sha1.Size}
	hashSHA256 = &hashInfo{HashSHA256, "SCRAM-SHA-256", sha256.New, scram.SHA256, sha256.Size}
	hashSHA512 = &hashInfo{HashSHA512, "SCRAM-SHA-512", sha512.New, scram.SHA512, sha512.Size}

	// hashesByStrength lists the supported hashes strongest first: the order
	// of mechanisms offered.
	hashesByStrength = []*hashInfo{hashSHA512, hashSHA256, hashSHA1}
	// plainPreference is the order in which PLAIN picks a stored credential.
	plainPreference = []*hashInfo{hashSHA256, hashSHA512, hashSHA1}
)

// valid reports whether c is a usable credential for h.
func (h *hashInfo) valid(c Credential) bool {
	return c.Hash == h.name && len(c.Salt) > 0 && c.Iterations > 0 &&
		len(c.StoredKey) == h.size && len(c.ServerKey) == h.size
}

// keys computes StoredKey and ServerKey for an already prepared password
// (RFC 5802 §3).
func (h *hashInfo) keys(password string, salt []byte, iterations int) (storedKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(h.new, password, salt, iterations, h.size)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: derive %s key: %w", h.name, err)
	}
	defer clear(salted)
	clientKey := hmacSum(h.new, salted, []byte("Client Key"))
	defer clear(clientKey)
	sum := h.new()
	sum.Write(clientKey)
	return sum.Sum(nil), hmacSum(h.new, salted, []byte("Server Key")), nil
}

func hmacSum(newHash func() hash.Hash, key, data []byte) []byte {
	m := hmac.New(newHash, key)
	m.Write(data)
	return m.Sum(nil)
}

// errBadPassword is returned by DeriveCredentials for a password SASLprep
// rejects; it deliberately says nothing about the password itself.
var errBadPassword = errors.New("auth: derive credentials: password is empty or contains characters SASLprep prohibits")

// preparePassword applies SASLprep (RFC 4013) as RFC 5802 §2.2 Normalize
// requires.
func preparePassword(password string) (string, error) {
	p, err := stringprep.SASLprep.Prepare(password)
	if err != nil || p == "" {
		return "", errBadPassword
	}
	return p, nil
}

// DeriveCredentials returns one Credential per supported hash (SHA-1,
// SHA-256, SHA-512) for password, each with its own random salt of SaltLen
// bytes and the given iteration count. The password is prepared with
// SASLprep; a password that is empty or that SASLprep rejects is an error.
func DeriveCredentials(password string, iterations int) ([]Credential, error) {
	if iterations < 1 {
		return nil, fmt.Errorf("auth: derive credentials: iteration count %d is not positive", iterations)
	}
	prepared, err := preparePassword(password)
	if err != nil {
		return nil, err
	}
	creds := make([]Credential, 0, len(hashesByStrength))
	for _, h := range hashesByStrength {
		salt := make([]byte, SaltLen)
		rand.Read(salt)
		stored, server, err := h.keys(prepared, salt, iterations)
		if err != nil {
			return nil, err
		}
		creds = append(creds, Credential{Hash: h.name, Salt: salt, Iterations: iterations, StoredKey: stored, ServerKey: server})
	}
	return creds, nil
}

// verifyPassword reports whether the prepared password matches c. It always
// runs the full PBKDF2 of c's cost.
func (h *hashInfo) verifyPassword(c Credential, prepared string) bool {
	stored, server, err := h.keys(prepared, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	clear(server)
	return subtle.ConstantTimeCompare(stored, c.StoredKey) == 1
}

// ValidCredential reports whether c is usable for SCRAM: one of the
// supported hashes, a salt, a positive iteration count and keys of the
// hash's size.
func ValidCredential(c Credential) bool {
	return slices.ContainsFunc(hashesByStrength, func(h *hashInfo) bool { return h.valid(c) })
}

// VerifyPassword reports whether password is the one creds were derived
// from, checked as SASL PLAIN checks it: against the first usable
// credential in PLAIN's order of hashes. Without one it is false.
func VerifyPassword(creds []Credential, password string) bool {
	prepared, err := preparePassword(password)
	if err != nil {
		return false
	}
	for _, h := range plainPreference {
		for _, c := range creds {
			if h.valid(c) {
				return h.verifyPassword(c, prepared)
			}
		}
	}
	return false
}
