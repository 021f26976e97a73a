package auth

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/xdg-go/scram"
)

// BenchmarkSCRAMSHA256Login measures one complete SCRAM-SHA-256 login
// (client-first, server-first, client-final, server-final) with xdg-go's
// client against the server and an in-memory store. "fresh-client" derives
// the salted password for every login, as a real client connecting anew
// does (PBKDF2 with DefaultIterations dominates); "server-only" reuses the
// client's cached keys, leaving the server's share of the cost.
func BenchmarkSCRAMSHA256Login(b *testing.B) {
	store := &memStore{}
	store.add(b, testDomain, testUser, testPassword)
	srv, _ := newTestServer(b, store, nil)
	ctx := context.Background()
	login := func(b *testing.B, client *scram.Client) {
		conv := client.NewConversation()
		ex, err := srv.Start(ctx, "SCRAM-SHA-256", testDomain, nil, testRemote)
		if err != nil {
			b.Fatal(err)
		}
		c1, _ := conv.Step("")
		s1, _, err := ex.Step(ctx, []byte(c1))
		if err != nil {
			b.Fatal(err)
		}
		c2, err := conv.Step(string(s1))
		if err != nil {
			b.Fatal(err)
		}
		s2, done, err := ex.Step(ctx, []byte(c2))
		if err != nil || !done {
			b.Fatal(err)
		}
		if _, err := conv.Step(string(s2)); err != nil || !conv.Valid() {
			b.Fatal("server signature rejected")
		}
	}
	b.Run("fresh-client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			client, err := scram.SHA256.NewClient(testUser, testPassword, "")
			if err != nil {
				b.Fatal(err)
			}
			login(b, client)
		}
	})
	b.Run("server-only", func(b *testing.B) {
		client, err := scram.SHA256.NewClient(testUser, testPassword, "")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			login(b, client)
		}
	})
}

// BenchmarkLoginWithToken measures the server's side of one FAST login
// (HT-SHA-256-EXPR on TLS 1.3) with an in-memory token store: the
// client's HMAC is made once, outside the loop.
func BenchmarkLoginWithToken(b *testing.B) {
	ctx := context.Background()
	ecdsaCert, _ := certs(b)
	srv, _ := newTestServer(b, &memStore{}, ecdsaCert.leaf)
	srv.tokens = &memTokens{}
	serverCS, clientCS := tlsPair(b, tls.VersionTLS13, ecdsaCert)
	cb, err := clientCS.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := srv.NewToken(ctx, testDomain, testUser, "phone", "HT-SHA-256-EXPR", Grant{})
	if err != nil {
		b.Fatal(err)
	}
	login := TokenLogin{Mechanism: "HT-SHA-256-EXPR", Domain: testDomain, Agent: "phone",
		Response: htResponse(testUser, tok.Secret, cb), Conn: serverCS, Remote: testRemote}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := srv.LoginWithToken(ctx, login); err != nil {
			b.Fatal(err)
		}
	}
}
