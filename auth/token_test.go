package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"slices"
	"sync"
	"testing"
	"time"
)

// memTokens is an in-memory TokenStore keeping what a TokenStore must.
type memTokens struct {
	mu     sync.Mutex
	tokens map[string][]Token // "domain\x00user\x00client"
}

func tokenKey(domain, username string, client []byte) string {
	return domain + "\x00" + username + "\x00" + string(client)
}

func (m *memTokens) ClientTokens(ctx context.Context, domain, username string, client []byte) ([]Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.tokens[tokenKey(domain, username, client)]), nil
}

func (m *memTokens) AddToken(ctx context.Context, domain, username string, client []byte, t Token, g Grant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = make(map[string][]Token)
	}
	k := tokenKey(domain, username, client)
	m.tokens[k] = append(slices.DeleteFunc(m.tokens[k], func(t Token) bool { return !t.Used }), t)
	return nil
}

func (m *memTokens) UseToken(ctx context.Context, domain, username string, client []byte, secret string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tokenKey(domain, username, client)
	i := slices.IndexFunc(m.tokens[k], func(t Token) bool { return t.Secret == secret })
	if i < 0 {
		return nil
	}
	m.tokens[k][i].Used = true
	m.tokens[k] = slices.DeleteFunc(m.tokens[k], func(t Token) bool { return t.Used && t.Secret != secret })
	return nil
}

func (m *memTokens) DeleteTokens(ctx context.Context, domain, username string, client []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tokens, tokenKey(domain, username, client))
	return nil
}

// age moves the issue time of the client's tokens back by d.
func (m *memTokens) age(domain, username, agent string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.tokens[tokenKey(domain, username, ClientKey(agent))] {
		m.tokens[tokenKey(domain, username, ClientKey(agent))][i].Issued = time.Now().Add(-d)
	}
}

// tokenServer returns a server with FAST tokens kept in memory.
func tokenServer(t *testing.T) (*Server, *memTokens, *recorder) {
	ecdsaCert, _ := certs(t)
	s, rec := newTestServer(t, &memStore{}, ecdsaCert.leaf)
	store := &memTokens{}
	s.tokens = store
	return s, store, rec
}

// htResponse is a client's HT initial response: username NUL HMAC.
func htResponse(user, token string, cb []byte) []byte {
	return append([]byte(user+"\x00"), htMAC(token, "Initiator", cb)...)
}

func TestFastMechanisms(t *testing.T) {
	s, _, _ := tokenServer(t)
	ecdsaCert, _ := certs(t)
	tls13, _ := tlsPair(t, tls.VersionTLS13, ecdsaCert)
	tls12, _ := tlsPair(t, tls.VersionTLS12, ecdsaCert)
	for _, tc := range []struct {
		name string
		cs   *tls.ConnectionState
		want []string
	}{
		{"TLS 1.3", tls13, []string{"HT-SHA-256-EXPR", "HT-SHA-256-ENDP", "HT-SHA-256-NONE"}},
		{"TLS 1.2", tls12, []string{"HT-SHA-256-ENDP", "HT-SHA-256-NONE"}},
		{"no TLS", nil, nil},
	} {
		if got := s.FastMechanisms(tc.cs); !slices.Equal(got, tc.want) {
			t.Errorf("%s: FastMechanisms = %q, want %q", tc.name, got, tc.want)
		}
	}
	s.tokens = nil
	if got := s.FastMechanisms(tls13); got != nil {
		t.Errorf("without a token store: FastMechanisms = %q, want none", got)
	}
}

// TestLoginWithToken checks each channel binding, the responder message,
// and each way a token login fails.
func TestLoginWithToken(t *testing.T) {
	ctx := context.Background()
	s, _, rec := tokenServer(t)
	ecdsaCert, _ := certs(t)
	serverCS, clientCS := tlsPair(t, tls.VersionTLS13, ecdsaCert)
	exporter, err := clientCS.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := sha256.Sum256(ecdsaCert.leaf.Raw)
	login := func(mech, agent string, response []byte) (TokenResult, error) {
		return s.LoginWithToken(ctx, TokenLogin{Mechanism: mech, Domain: testDomain, Agent: agent, Response: response, Conn: serverCS, Remote: testRemote})
	}
	for _, tc := range []struct {
		mech string
		cb   []byte
	}{{"HT-SHA-256-NONE", nil}, {"HT-SHA-256-EXPR", exporter}, {"HT-SHA-256-ENDP", endpoint[:]}} {
		tok, err := s.NewToken(ctx, testDomain, testUser, "phone", tc.mech, Grant{})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Mechanism != tc.mech || time.Until(tok.Expiry) < DefaultTokenLifetime-time.Minute || len(tok.Secret) < 32 {
			t.Fatalf("NewToken = %+v", tok)
		}
		res, err := login(tc.mech, "phone", htResponse(testUser, tok.Secret, tc.cb))
		if err != nil {
			t.Fatalf("%s: %v", tc.mech, err)
		}
		if res.Username != testUser || !hmac.Equal(res.Final, htMAC(tok.Secret, "Responder", tc.cb)) || res.Renew {
			t.Fatalf("%s: %+v, want %s with the responder message and no renewal", tc.mech, res, testUser)
		}
		// The other bindings' data does not match.
		if _, err := login(tc.mech, "phone", htResponse(testUser, tok.Secret, []byte("other"))); condition(t, err) != NotAuthorized {
			t.Fatalf("%s with the wrong channel binding: %v, want not-authorized", tc.mech, err)
		}
	}
	if len(rec.get()) != 3 {
		t.Fatalf("failure delays %v, want one per failure", rec.get())
	}

	tok, err := s.NewToken(ctx, testDomain, testUser, "phone", "HT-SHA-256-NONE", Grant{})
	if err != nil {
		t.Fatal(err)
	}
	good := htResponse(testUser, tok.Secret, nil)
	for _, tc := range []struct {
		name, mech, agent string
		response          []byte
		want              string
	}{
		{"another mechanism", "HT-SHA-256-EXPR", "phone", htResponse(testUser, tok.Secret, exporter), NotAuthorized},
		{"another client", "HT-SHA-256-NONE", "laptop", good, NotAuthorized},
		{"no user agent", "HT-SHA-256-NONE", "", good, MalformedRequest},
		{"another user", "HT-SHA-256-NONE", "phone", htResponse("romeo", tok.Secret, nil), NotAuthorized},
		{"a wrong token", "HT-SHA-256-NONE", "phone", htResponse(testUser, tok.Secret+"x", nil), NotAuthorized},
		{"no NUL", "HT-SHA-256-NONE", "phone", []byte(testUser), MalformedRequest},
		{"a short HMAC", "HT-SHA-256-NONE", "phone", good[:len(good)-1], MalformedRequest},
		{"an unknown mechanism", "HT-SHA-512-NONE", "phone", good, InvalidMechanism},
	} {
		if _, err := login(tc.mech, tc.agent, tc.response); condition(t, err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if _, err := login("HT-SHA-256-NONE", "phone", good); err != nil {
		t.Fatalf("the token after the failures: %v", err)
	}
}

// TestTokenRotation follows XEP-0484 §4.5: a new token waits beside the
// one in use until it is used; an old token brings renewal; an
// invalidated token is gone; an expired one fails with
// credentials-expired.
func TestTokenRotation(t *testing.T) {
	ctx := context.Background()
	s, store, _ := tokenServer(t)
	ecdsaCert, _ := certs(t)
	serverCS, _ := tlsPair(t, tls.VersionTLS13, ecdsaCert)
	const mech = "HT-SHA-256-NONE"
	login := func(token string, invalidate bool) (TokenResult, error) {
		return s.LoginWithToken(ctx, TokenLogin{Mechanism: mech, Domain: testDomain, Agent: "phone",
			Response: htResponse(testUser, token, nil), Invalidate: invalidate, Conn: serverCS, Remote: testRemote})
	}
	newToken := func() string {
		tok, err := s.NewToken(ctx, testDomain, testUser, "phone", mech, Grant{})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Secret
	}

	first := newToken()
	if _, err := login(first, false); err != nil {
		t.Fatal(err)
	}
	second := newToken()
	if _, err := login(first, false); err != nil {
		t.Fatalf("the token in use, before the new one is used: %v", err)
	}
	if _, err := login(second, false); err != nil {
		t.Fatal(err)
	}
	if _, err := login(first, false); condition(t, err) != NotAuthorized {
		t.Fatalf("the replaced token: %v, want not-authorized", err)
	}

	store.age(testDomain, testUser, "phone", 25*time.Hour)
	if res, err := login(second, false); err != nil || !res.Renew {
		t.Fatalf("a day-old token: %+v, %v; want renewal", res, err)
	}
	third := newToken() // waits beside second
	if res, err := login(second, true); err != nil || res.Renew {
		t.Fatalf("invalidating: %+v, %v; want success without renewal", res, err)
	}
	for _, tok := range []string{second, third} {
		if _, err := login(tok, false); condition(t, err) != NotAuthorized {
			t.Fatalf("a token of the client that invalidated: %v, want not-authorized", err)
		}
	}

	s.tokenLifetime = time.Nanosecond
	expired := newToken()
	if _, err := login(expired, false); condition(t, err) != CredentialsExpired {
		t.Fatalf("an expired token: %v, want credentials-expired", err)
	}
}
