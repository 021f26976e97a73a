package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

func TestMechanismsAndChannelBindings(t *testing.T) {
	ec, ed := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	s12, _ := tlsPair(t, tls.VersionTLS12, ec)
	s13ed, _ := tlsPair(t, tls.VersionTLS13, ed)
	s12ed, _ := tlsPair(t, tls.VersionTLS12, ed)
	all := []string{"SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}
	noPlus := []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}
	tests := []struct {
		name     string
		leaf     *x509.Certificate
		cs       *tls.ConnectionState
		mechs    []string
		bindings []string
	}{
		{"no TLS", ec.leaf, nil, []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"}, nil},
		{"TLS 1.3", ec.leaf, s13, all, []string{"tls-exporter", "tls-server-end-point"}},
		{"TLS 1.3 no cert callback", nil, s13, all, []string{"tls-exporter"}},
		{"TLS 1.3 Ed25519", ed.leaf, s13ed, all, []string{"tls-exporter"}},
		{"TLS 1.2", ec.leaf, s12, all, []string{"tls-server-end-point"}},
		{"TLS 1.2 no cert callback", nil, s12, noPlus, nil},
		{"TLS 1.2 Ed25519", ed.leaf, s12ed, noPlus, nil},
		{"handshake incomplete", ec.leaf, &tls.ConnectionState{Version: tls.VersionTLS13}, noPlus, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newTestServer(t, &memStore{}, tc.leaf)
			if got := srv.Mechanisms(tc.cs); !slices.Equal(got, tc.mechs) {
				t.Errorf("Mechanisms = %v, want %v", got, tc.mechs)
			}
			if got := srv.ChannelBindings(tc.cs); !slices.Equal(got, tc.bindings) {
				t.Errorf("ChannelBindings = %v, want %v", got, tc.bindings)
			}
		})
	}
}

func TestStart(t *testing.T) {
	ec, _ := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	s12, _ := tlsPair(t, tls.VersionTLS12, ec)
	srv, _ := newTestServer(t, &memStore{}, nil)
	tests := []struct {
		mech, domain string
		cs           *tls.ConnectionState
		want         string
	}{
		{"PLAIN", testDomain, nil, EncryptionRequired},
		{"PLAIN", testDomain, s13, ""},
		{"plain", testDomain, s13, InvalidMechanism},
		{"DIGEST-MD5", testDomain, s13, InvalidMechanism},
		{"", testDomain, s13, InvalidMechanism},
		{"SCRAM-SHA-256", testDomain, nil, ""},
		{"SCRAM-SHA-256-PLUS", testDomain, nil, InvalidMechanism},
		{"SCRAM-SHA-256-PLUS", testDomain, s13, ""},
		{"SCRAM-SHA-256-PLUS", testDomain, s12, InvalidMechanism}, // no cert callback: nothing to bind
		{"SCRAM-SHA-1", testDomain, s12, ""},
		{"SCRAM-SHA-256", "", nil, TemporaryAuthFailure},
	}
	for _, tc := range tests {
		t.Run(tc.mech+"/"+tc.domain, func(t *testing.T) {
			ex, err := srv.Start(context.Background(), tc.mech, tc.domain, tc.cs, testRemote)
			if got := condition(t, err); got != tc.want {
				t.Fatalf("condition = %q, want %q", got, tc.want)
			}
			if (ex != nil) != (tc.want == "") {
				t.Fatalf("exchange = %v with error %v", ex, err)
			}
			if ex != nil && ex.Mechanism() != tc.mech {
				t.Errorf("Mechanism() = %q", ex.Mechanism())
			}
		})
	}
}

func TestNewServerValidation(t *testing.T) {
	secret := []byte("0123456789abcdef")
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ok", Config{Store: &memStore{}, Secret: secret}, true},
		{"no store", Config{Secret: secret}, false},
		{"no secret", Config{Store: &memStore{}}, false},
		{"short secret", Config{Store: &memStore{}, Secret: secret[:15]}, false},
		{"negative iterations", Config{Store: &memStore{}, Secret: secret, Iterations: -1}, false},
	}
	for _, tc := range tests {
		if _, err := NewServer(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// bindingCase is a TLS setup plus the client's binding for it.
type bindingCase struct {
	name string
	cs   *tls.ConnectionState // server side
	cb   scram.ChannelBinding // client side
}

func bindingCases(t *testing.T) []bindingCase {
	ec, _ := certs(t)
	s13, c13 := tlsPair(t, tls.VersionTLS13, ec)
	s12, c12 := tlsPair(t, tls.VersionTLS12, ec)
	exp13, err := scram.NewTLSExporterBinding(c13)
	if err != nil {
		t.Fatal(err)
	}
	sep13, err := scram.NewTLSServerEndpointBinding(c13)
	if err != nil {
		t.Fatal(err)
	}
	sep12, err := scram.NewTLSServerEndpointBinding(c12)
	if err != nil {
		t.Fatal(err)
	}
	return []bindingCase{
		{"TLS1.3/tls-exporter", s13, exp13},
		{"TLS1.3/tls-server-end-point", s13, sep13},
		{"TLS1.2/tls-server-end-point", s12, sep12},
	}
}

func TestSCRAMSuccess(t *testing.T) {
	ec, _ := certs(t)
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, rec := newTestServer(t, store, ec.leaf)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	for _, base := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(base+"/no TLS", func(t *testing.T) {
			r := runSCRAM(t, srv, base, nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
			checkSuccess(t, r, "")
		})
		t.Run(base+"/no TLS/y", func(t *testing.T) {
			// "y" is right when the server offered no -PLUS.
			r := runSCRAM(t, srv, base, nil, flagY, scram.ChannelBinding{}, testUser, testPassword, "", nil)
			checkSuccess(t, r, "")
		})
		t.Run(base+"/TLS1.3/n", func(t *testing.T) {
			r := runSCRAM(t, srv, base, s13, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
			checkSuccess(t, r, "")
		})
		for _, bc := range bindingCases(t) {
			t.Run(base+"-PLUS/"+bc.name, func(t *testing.T) {
				r := runSCRAM(t, srv, base+"-PLUS", bc.cs, flagP, bc.cb, testUser, testPassword, "", nil)
				checkSuccess(t, r, string(bc.cb.Type))
			})
		}
	}
	if d := rec.get(); len(d) != 0 {
		t.Errorf("successes were delayed: %v", d)
	}
}

func checkSuccess(t *testing.T, r scramRun, binding string) {
	t.Helper()
	if r.cond1 != "" || r.cond2 != "" || !r.done {
		t.Fatalf("failed: step1 %q step2 %q (%s)", r.cond1, r.cond2, r.text2)
	}
	if !r.clientValid {
		t.Error("client did not accept the server signature")
	}
	if got := r.ex.Username(); got != testUser {
		t.Errorf("Username() = %q", got)
	}
	if got := r.ex.ChannelBinding(); got != binding {
		t.Errorf("ChannelBinding() = %q, want %q", got, binding)
	}
}

// parseServerFirst splits a server-first message into nonce, salt and
// iteration count; the XEP-0474 attribute h must follow them.
func parseServerFirst(t *testing.T, s string) (nonce string, salt []byte, iters int) {
	t.Helper()
	f := strings.Split(s, ",")
	if len(f) != 4 || !strings.HasPrefix(f[0], "r=") || !strings.HasPrefix(f[1], "s=") || !strings.HasPrefix(f[2], "i=") || !strings.HasPrefix(f[3], "h=") {
		t.Fatalf("server-first %q malformed", s)
	}
	salt, err := base64.StdEncoding.DecodeString(f[1][2:])
	if err != nil {
		t.Fatal(err)
	}
	iters, err = strconv.Atoi(f[2][2:])
	if err != nil {
		t.Fatal(err)
	}
	return f[0][2:], salt, iters
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	ec, _ := certs(t)
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, rec := newTestServer(t, store, ec.leaf)
	bcs := bindingCases(t)
	for _, base := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		for _, mode := range []string{"no TLS", "PLUS"} {
			t.Run(base+"/"+mode, func(t *testing.T) {
				mech, cs, f, cb := base, (*tls.ConnectionState)(nil), flagN, scram.ChannelBinding{}
				if mode == "PLUS" {
					mech, cs, f, cb = base+"-PLUS", bcs[0].cs, flagP, bcs[0].cb
				}
				wrong := runSCRAM(t, srv, mech, cs, f, cb, testUser, "wrong password", "", nil)
				unknown := runSCRAM(t, srv, mech, cs, f, cb, "mallory", testPassword, "", nil)
				unknown2 := runSCRAM(t, srv, mech, cs, f, cb, "Mallory", testPassword, "", nil)
				invalid := runSCRAM(t, srv, mech, cs, f, cb, "mal@lory", testPassword, "", nil)
				for name, r := range map[string]scramRun{"wrong": wrong, "unknown": unknown, "unknown2": unknown2, "invalid": invalid} {
					if r.cond1 != "" || r.cond2 != NotAuthorized || r.done || r.text2 != "" {
						t.Errorf("%s: step1 %q step2 %q text %q done %v", name, r.cond1, r.cond2, r.text2, r.done)
					}
				}
				wn, ws, wi := parseServerFirst(t, wrong.serverFirst)
				un, us, ui := parseServerFirst(t, unknown.serverFirst)
				_, us2, _ := parseServerFirst(t, unknown2.serverFirst)
				if len(wn) != len(un) || len(ws) != len(us) || wi != ui {
					t.Errorf("server-first differs in shape: %q vs %q", wrong.serverFirst, unknown.serverFirst)
				}
				if !bytes.Equal(us, us2) {
					t.Error("fake salt depends on the case of the username")
				}
				again := runSCRAM(t, srv, mech, cs, f, cb, "mallory", "other", "", nil)
				if _, s, _ := parseServerFirst(t, again.serverFirst); !bytes.Equal(s, us) {
					t.Error("fake salt is not stable across attempts")
				}
				// The salt a real user shows is stable too.
				w2 := runSCRAM(t, srv, mech, cs, f, cb, testUser, "x", "", nil)
				if _, s, _ := parseServerFirst(t, w2.serverFirst); !bytes.Equal(s, ws) {
					t.Error("real salt changed")
				}
			})
		}
	}
	if d := rec.get(); len(d) == 0 {
		t.Error("failures were not delayed")
	}
}

func TestUnknownUserDelaysMatchWrongPassword(t *testing.T) {
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	for _, who := range []string{testUser, "mallory"} {
		srv, rec := newTestServer(t, store, nil)
		for range 3 {
			r := runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, who, "nope", "", nil)
			if r.cond2 != NotAuthorized {
				t.Fatalf("%s: %q", who, r.cond2)
			}
		}
		if got := rec.get(); !slices.Equal(got, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}) {
			t.Errorf("%s: delays %v", who, got)
		}
	}
}

func TestAccountWithoutCredentialForHash(t *testing.T) {
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	// Keep only the SHA-256 credential.
	creds := store.users[testDomain+"\x00"+testUser]
	for _, c := range creds {
		if c.Hash == HashSHA256 {
			store.users[testDomain+"\x00"+testUser] = []Credential{c}
		}
	}
	srv, _ := newTestServer(t, store, nil)
	r := runSCRAM(t, srv, "SCRAM-SHA-1", nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
	if r.cond1 != "" || r.cond2 != NotAuthorized {
		t.Errorf("SHA-1 without SHA-1 credential: %q %q", r.cond1, r.cond2)
	}
	r = runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
	checkSuccess(t, r, "")
}

func TestSCRAMChannelBindingFailures(t *testing.T) {
	ec, _ := certs(t)
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, _ := newTestServer(t, store, ec.leaf)
	bcs := bindingCases(t) // 0: 1.3 exporter, 1: 1.3 end-point, 2: 1.2 end-point
	_, otherc13 := tlsPair(t, tls.VersionTLS13, ec)
	otherExp, err := scram.NewTLSExporterBinding(otherc13)
	if err != nil {
		t.Fatal(err)
	}
	tampered := scram.ChannelBinding{Type: bcs[1].cb.Type, Data: bytes.Clone(bcs[1].cb.Data)}
	tampered.Data[0] ^= 1
	unique := scram.NewTLSUniqueBinding([]byte("0123456789ab"))
	exporterOn12 := scram.ChannelBinding{Type: scram.ChannelBindingTLSExporter, Data: []byte("0123456789abcdef0123456789abcdef")}
	tests := []struct {
		name     string
		mech     string
		cs       *tls.ConnectionState
		f        flag
		cb       scram.ChannelBinding
		step     int
		wantCond string
	}{
		{name: "exporter of another connection", mech: "SCRAM-SHA-256-PLUS", cs: bcs[0].cs, f: flagP, cb: otherExp, step: 2, wantCond: NotAuthorized},
		{name: "tampered end-point", mech: "SCRAM-SHA-256-PLUS", cs: bcs[1].cs, f: flagP, cb: tampered, step: 2, wantCond: NotAuthorized},
		{name: "tls-unique", mech: "SCRAM-SHA-256-PLUS", cs: bcs[0].cs, f: flagP, cb: unique, step: 1, wantCond: NotAuthorized},
		{name: "exporter on TLS 1.2", mech: "SCRAM-SHA-256-PLUS", cs: bcs[2].cs, f: flagP, cb: exporterOn12, step: 1, wantCond: NotAuthorized},
		{name: "PLUS with n", mech: "SCRAM-SHA-256-PLUS", cs: bcs[0].cs, f: flagN, step: 1, wantCond: NotAuthorized},
		{name: "PLUS with y", mech: "SCRAM-SHA-512-PLUS", cs: bcs[0].cs, f: flagY, step: 1, wantCond: NotAuthorized},
		{name: "non-PLUS with p", mech: "SCRAM-SHA-256", cs: bcs[0].cs, f: flagP, cb: bcs[0].cb, step: 1, wantCond: NotAuthorized},
		{name: "downgrade y on TLS 1.3", mech: "SCRAM-SHA-256", cs: bcs[0].cs, f: flagY, step: 1, wantCond: NotAuthorized},
		{name: "downgrade y on TLS 1.2", mech: "SCRAM-SHA-1", cs: bcs[2].cs, f: flagY, step: 1, wantCond: NotAuthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runSCRAM(t, srv, tc.mech, tc.cs, tc.f, tc.cb, testUser, testPassword, "", nil)
			got := r.cond1
			if tc.step == 2 {
				if r.cond1 != "" {
					t.Fatalf("step 1 failed: %q", r.cond1)
				}
				got = r.cond2
			}
			if got != tc.wantCond || r.done || r.ex.Username() != "" {
				t.Errorf("step %d condition %q (step1 %q step2 %q), want %q", tc.step, got, r.cond1, r.cond2, tc.wantCond)
			}
		})
	}
	// "y" is fine over TLS when no binding can be offered.
	s12, _ := tlsPair(t, tls.VersionTLS12, ec)
	plain, _ := newTestServer(t, store, nil)
	r := runSCRAM(t, plain, "SCRAM-SHA-256", s12, flagY, scram.ChannelBinding{}, testUser, testPassword, "", nil)
	checkSuccess(t, r, "")
}

func TestSCRAMAuthzID(t *testing.T) {
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, _ := newTestServer(t, store, nil)
	tests := []struct {
		authz, password, want string
	}{
		{"alice", testPassword, ""},
		{"alice@example.org", testPassword, ""},
		{"Alice@Example.ORG", testPassword, ""},
		{"ALICE", testPassword, ""},
		{"bob", testPassword, InvalidAuthzID},
		{"bob@example.org", testPassword, InvalidAuthzID},
		{"alice@example.net", testPassword, InvalidAuthzID},
		{"alice@example.org/res", testPassword, InvalidAuthzID},
		{"example.org", testPassword, InvalidAuthzID},
		{"@@", testPassword, InvalidAuthzID},
		{"bob", "wrong", NotAuthorized}, // authentication comes first
	}
	for _, tc := range tests {
		t.Run(tc.authz+"/"+tc.password, func(t *testing.T) {
			r := runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, tc.password, tc.authz, nil)
			if r.cond1 != "" {
				t.Fatalf("step 1: %q", r.cond1)
			}
			if r.cond2 != tc.want {
				t.Fatalf("condition %q, want %q", r.cond2, tc.want)
			}
			if (r.ex.Username() != "") != (tc.want == "") {
				t.Errorf("Username() = %q", r.ex.Username())
			}
		})
	}
}

func TestSCRAMMalformed(t *testing.T) {
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, _ := newTestServer(t, store, nil)
	ctx := context.Background()
	firsts := []string{
		"garbage",
		"n,",
		"n,,",
		"n,,n=alice",
		"x,,n=alice,r=abc",
		"p,,n=alice,r=abc",
		"n,b=x,n=alice,r=abc",
		"n,,m=ext,n=alice,r=abc",
		"n,,n=al=ZZice,r=abc",
		"n,a=x=QQ,n=alice,r=abc",
		"n,,x=alice,r=abc",
		"n,,n=alice,x=abc",
		"n,,n=\xff\xfe,r=abc",
		"\x00\x00\x00",
		strings.Repeat("n,,n=", 3000),
		"", // second empty first message (the first gets an empty challenge)
	}
	for i, msg := range firsts {
		t.Run(fmt.Sprintf("first/%d", i), func(t *testing.T) {
			ex, err := srv.Start(ctx, "SCRAM-SHA-256", testDomain, nil, testRemote)
			if err != nil {
				t.Fatal(err)
			}
			if msg == "" {
				if out, done, err := ex.Step(ctx, nil); out != nil || done || err != nil {
					t.Fatalf("empty first message: %q %v %v", out, done, err)
				}
			}
			out, done, err := ex.Step(ctx, []byte(msg))
			cond := condition(t, err)
			if cond != MalformedRequest && cond != NotAuthorized || done || out != nil {
				t.Errorf("%q: out %q done %v condition %q", msg, out, done, cond)
			}
			if _, _, err := ex.Step(ctx, []byte("n,,n=alice,r=abc")); condition(t, err) == "" {
				t.Error("Step after failure succeeded")
			}
		})
	}
	finals := []func(c2 string) string{
		func(string) string { return "garbage" },
		func(string) string { return "" },
		func(string) string { return "c=biws" },
		func(string) string { return "c=biws,r=abc,p=AAAA" },
		func(c2 string) string { return strings.Replace(c2, "c=biws", "c=!!!", 1) },
		func(c2 string) string { return strings.Replace(c2, "c=biws", "c=eSws", 1) }, // "y,,"
		func(c2 string) string { return c2[:strings.LastIndex(c2, ",p=")] + ",p=AAAA" },
		func(c2 string) string { return c2[:strings.LastIndex(c2, ",p=")] + ",p=!!" },
		func(c2 string) string { return c2[:strings.LastIndex(c2, ",p=")] },
		func(c2 string) string { return strings.Replace(c2, ",r=", ",r=x", 1) },
		func(c2 string) string { return c2 + "\xff" },
		func(c2 string) string { return strings.Repeat(c2, 100) },
	}
	for i, mutate := range finals {
		t.Run(fmt.Sprintf("final/%d", i), func(t *testing.T) {
			r := runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", mutate)
			if r.cond1 != "" {
				t.Fatalf("step 1: %q", r.cond1)
			}
			if r.cond2 != MalformedRequest && r.cond2 != NotAuthorized || r.done {
				t.Errorf("condition %q done %v", r.cond2, r.done)
			}
		})
	}
}

func TestEmptyInitialResponse(t *testing.T) {
	ec, _ := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, _ := newTestServer(t, store, nil)
	ctx := context.Background()
	for _, mech := range []string{"SCRAM-SHA-256", "PLAIN"} {
		ex, err := srv.Start(ctx, mech, testDomain, s13, testRemote)
		if err != nil {
			t.Fatal(err)
		}
		if out, done, err := ex.Step(ctx, []byte{}); len(out) != 0 || done || err != nil {
			t.Fatalf("%s: empty response: %q %v %v", mech, out, done, err)
		}
		if mech == "PLAIN" {
			if _, done, err := ex.Step(ctx, []byte("\x00alice\x00"+testPassword)); !done || err != nil {
				t.Fatalf("PLAIN after empty challenge: %v %v", done, err)
			}
			continue
		}
		client, _ := scram.SHA256.NewClient(testUser, testPassword, "")
		conv := client.NewConversation()
		c1, _ := conv.Step("")
		s1, _, err := ex.Step(ctx, []byte(c1))
		if err != nil {
			t.Fatal(err)
		}
		c2, err := conv.Step(string(s1))
		if err != nil {
			t.Fatal(err)
		}
		if _, done, err := ex.Step(ctx, []byte(c2)); !done || err != nil {
			t.Fatalf("SCRAM after empty challenge: %v %v", done, err)
		}
	}
}

func TestStoreErrors(t *testing.T) {
	ec, _ := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	boom := errors.New("database on fire")
	store := &memStore{err: boom}
	srv, rec := newTestServer(t, store, nil)
	r := runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
	if r.cond1 != TemporaryAuthFailure {
		t.Errorf("SCRAM: %q", r.cond1)
	}
	ex, err := srv.Start(context.Background(), "PLAIN", testDomain, s13, testRemote)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ex.Step(context.Background(), []byte("\x00alice\x00pw"))
	if condition(t, err) != TemporaryAuthFailure || !errors.Is(err, boom) {
		t.Errorf("PLAIN: %v", err)
	}
	if d := rec.get(); len(d) != 0 {
		t.Errorf("store failures were delayed: %v", d)
	}
	// A wrapped ErrNoSuchUser is an unknown user, not a store failure.
	store.err = fmt.Errorf("lookup: %w", ErrNoSuchUser)
	r = runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
	if r.cond1 != "" || r.cond2 != NotAuthorized {
		t.Errorf("wrapped ErrNoSuchUser: %q %q", r.cond1, r.cond2)
	}
	// So is (nil, nil).
	srv2, _ := newTestServer(t, nilStore{}, nil)
	r = runSCRAM(t, srv2, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
	if r.cond1 != "" || r.cond2 != NotAuthorized {
		t.Errorf("(nil, nil): %q %q", r.cond1, r.cond2)
	}
}

type nilStore struct{}

func (nilStore) Credentials(context.Context, string, string) ([]Credential, error) { return nil, nil }

func TestPLAIN(t *testing.T) {
	ec, _ := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	store.add(t, testDomain, "nbsp", "pass\u00a0word") // SASLprep maps U+00A0 to a space
	srv, _ := newTestServer(t, store, nil)
	tests := []struct {
		name, msg, want, user string
	}{
		{"ok", "\x00alice\x00" + testPassword, "", "alice"},
		{"ok case-mapped", "\x00ALICE\x00" + testPassword, "", "alice"},
		{"ok authzid user", "alice\x00alice\x00" + testPassword, "", "alice"},
		{"ok authzid jid", "alice@example.org\x00alice\x00" + testPassword, "", "alice"},
		{"ok SASLprep", "\x00nbsp\x00pass word", "", "nbsp"},
		{"ok SASLprep same", "\x00nbsp\x00pass\u00a0word", "", "nbsp"},
		{"bad authzid", "bob@example.org\x00alice\x00" + testPassword, InvalidAuthzID, ""},
		{"bad authzid resource", "alice@example.org/r\x00alice\x00" + testPassword, InvalidAuthzID, ""},
		{"bad authzid wrong password", "bob\x00alice\x00nope", NotAuthorized, ""},
		{"wrong password", "\x00alice\x00nope", NotAuthorized, ""},
		{"unknown user", "\x00mallory\x00" + testPassword, NotAuthorized, ""},
		{"invalid localpart", "\x00a@b\x00" + testPassword, NotAuthorized, ""},
		{"prohibited password", "\x00alice\x00\u0007bell", NotAuthorized, ""},
		{"empty", "", MalformedRequest, ""}, // after the empty challenge
		{"one NUL", "\x00", MalformedRequest, ""},
		{"no NUL", "alice", MalformedRequest, ""},
		{"no password", "\x00alice\x00", MalformedRequest, ""},
		{"no authcid", "\x00\x00" + testPassword, MalformedRequest, ""},
		{"three NULs", "\x00alice\x00pw\x00x", MalformedRequest, ""},
		{"invalid UTF-8", "\x00alice\x00\xff", MalformedRequest, ""},
		{"too long", "\x00alice\x00" + strings.Repeat("x", maxMessageLen), MalformedRequest, ""},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := srv.Start(ctx, "PLAIN", testDomain, s13, testRemote)
			if err != nil {
				t.Fatal(err)
			}
			if tc.msg == "" {
				ex.Step(ctx, nil)
			}
			out, done, err := ex.Step(ctx, []byte(tc.msg))
			if got := condition(t, err); got != tc.want {
				t.Fatalf("condition %q, want %q (%v)", got, tc.want, err)
			}
			if done != (tc.want == "") || out != nil {
				t.Errorf("done %v out %q", done, out)
			}
			if ex.Username() != tc.user {
				t.Errorf("Username() = %q, want %q", ex.Username(), tc.user)
			}
		})
	}
}

// TestPLAINUnknownUserRunsPBKDF2 checks that an unknown user costs the same
// work as a real one: a fake credential with the configured iteration count
// is verified.
func TestPLAINUnknownUserRunsPBKDF2(t *testing.T) {
	srv, _ := newTestServer(t, &memStore{}, nil)
	ex := &Exchange{srv: srv, mech: mechanism{name: "PLAIN"}, domain: testDomain}
	h, c, err := ex.credential(context.Background(), "mallory", plainPreference...)
	if err != nil {
		t.Fatal(err)
	}
	if !ex.fake || h != hashSHA256 || c.Iterations != DefaultIterations || len(c.Salt) != SaltLen || !h.valid(c) {
		t.Errorf("fake credential: fake %v hash %s iterations %d salt %d valid %v", ex.fake, h.name, c.Iterations, len(c.Salt), h.valid(c))
	}
}

func TestDeriveCredentials(t *testing.T) {
	creds, err := DeriveCredentials(testPassword, DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 3 {
		t.Fatalf("%d credentials", len(creds))
	}
	hashes := map[string]*hashInfo{HashSHA1: hashSHA1, HashSHA256: hashSHA256, HashSHA512: hashSHA512}
	salts := map[string]bool{}
	for _, c := range creds {
		h := hashes[c.Hash]
		if h == nil || !h.valid(c) || len(c.Salt) != SaltLen || c.Iterations != DefaultIterations {
			t.Errorf("bad credential for %q", c.Hash)
			continue
		}
		salts[string(c.Salt)] = true
		// Cross-check against xdg-go's client derivation.
		client, err := h.gen.NewClient(testUser, testPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		sc, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sc.StoredKey, c.StoredKey) || !bytes.Equal(sc.ServerKey, c.ServerKey) {
			t.Errorf("%s: keys differ from the reference client", c.Hash)
		}
		if !h.verifyPassword(c, testPassword) || h.verifyPassword(c, testPassword+"x") {
			t.Errorf("%s: verifyPassword wrong", c.Hash)
		}
	}
	if len(salts) != 3 {
		t.Error("salts are not distinct")
	}
	// Both PLAIN and SCRAM accept them end to end.
	store := &memStore{users: map[string][]Credential{testDomain + "\x00" + testUser: creds}}
	srv, _ := newTestServer(t, store, nil)
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		checkSuccess(t, runSCRAM(t, srv, mech, nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil), "")
	}
	ec, _ := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	ex, _ := srv.Start(context.Background(), "PLAIN", testDomain, s13, testRemote)
	if _, done, err := ex.Step(context.Background(), []byte("\x00alice\x00"+testPassword)); !done || err != nil {
		t.Errorf("PLAIN: %v %v", done, err)
	}
	// PLAIN falls back to another hash when SHA-256 is missing.
	store.users[testDomain+"\x00"+testUser] = creds[2:] // SHA-1 only
	ex, _ = srv.Start(context.Background(), "PLAIN", testDomain, s13, testRemote)
	if _, done, err := ex.Step(context.Background(), []byte("\x00alice\x00"+testPassword)); !done || err != nil || creds[2].Hash != HashSHA1 {
		t.Errorf("PLAIN with SHA-1 only: %v %v", done, err)
	}

	for _, bad := range []struct {
		password string
		iters    int
	}{{"", DefaultIterations}, {"\u0007", DefaultIterations}, {"ok", 0}, {"ok", -5}} {
		if _, err := DeriveCredentials(bad.password, bad.iters); err == nil {
			t.Errorf("DeriveCredentials(%q, %d) succeeded", bad.password, bad.iters)
		} else if bad.password != "" && bad.password != "ok" && strings.Contains(err.Error(), bad.password) {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}

// TestRFC5802Vector checks the key derivation against the RFC 5802 §5
// example (user "user", password "pencil").
func TestRFC5802Vector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("QSXCR+Q6sek8bf92")
	stored, server, err := hashSHA1.keys("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	// ServerSignature over the example AuthMessage must be the example v=.
	authMsg := "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
	if got := base64.StdEncoding.EncodeToString(hmacSum(hashSHA1.new, server, []byte(authMsg))); got != "rmF9pqV8S7suAoZWja4dJRkFsKQ=" {
		t.Errorf("server signature %s", got)
	}
	// ClientProof p= XOR ClientSignature gives ClientKey; H(ClientKey) = StoredKey.
	proof, _ := base64.StdEncoding.DecodeString("v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")
	sig := hmacSum(hashSHA1.new, stored, []byte(authMsg))
	for i := range proof {
		proof[i] ^= sig[i]
	}
	h := hashSHA1.new()
	h.Write(proof)
	if !bytes.Equal(h.Sum(nil), stored) {
		t.Error("client proof does not verify")
	}
}

func TestAuthzidAllowed(t *testing.T) {
	tests := []struct {
		authz string
		ok    bool
	}{
		{"", true},
		{"alice", true},
		{"Alice", true},
		{"alice@example.org", true},
		{"alice@EXAMPLE.org", true},
		{"bob", false},
		{"alice@example.org/x", false},
		{"example.org", false},
		{"alice@", false},
		{"@example.org", false},
		{"\xff", false},
	}
	for _, tc := range tests {
		if got := authzidAllowed(tc.authz, "alice", "example.org"); got != tc.ok {
			t.Errorf("authzidAllowed(%q) = %v", tc.authz, got)
		}
	}
}

func TestFailureError(t *testing.T) {
	cause := errors.New("cause")
	f := &Failure{Condition: NotAuthorized, Text: "t", Err: cause}
	if f.Error() != "auth: sasl failure: not-authorized: t: cause" || !errors.Is(f, cause) {
		t.Errorf("Error() = %q", f.Error())
	}
}

// TestSSDPHashVector checks the hash against XEP-0474's example, from
// lists in another order than the sorted one the hash is taken over.
func TestSSDPHashVector(t *testing.T) {
	got := ssdpHash(hashSHA1, []string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"}, []string{"tls-server-end-point", "tls-exporter"})
	if got != "G6k/rBLDqgOhRRaCuuatSDFkJ08=" {
		t.Errorf("hash %s", got)
	}
}

// TestSSDP checks that every SCRAM exchange's server-first message
// carries the XEP-0474 hash a client computes from what the server
// offered: the mechanisms and, with TLS, the channel-binding types. A
// client that saw fewer mechanisms, or no channel bindings, finds a
// different hash.
func TestSSDP(t *testing.T) {
	ec, _ := certs(t)
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, _ := newTestServer(t, store, ec.leaf)
	states := map[string]*tls.ConnectionState{"no TLS": nil}
	for _, bc := range bindingCases(t) {
		states[bc.name] = bc.cs
	}
	for name, cs := range states {
		mechs, cbs := srv.Mechanisms(cs), srv.ChannelBindings(cs)
		for _, mech := range mechs {
			h, ok := hashByMechanism(mech)
			if !ok {
				continue
			}
			t.Run(name+"/"+mech, func(t *testing.T) {
				ex, err := srv.Start(context.Background(), mech, testDomain, cs, testRemote)
				if err != nil {
					t.Fatal(err)
				}
				gs2 := "n,,"
				if strings.HasSuffix(mech, "-PLUS") {
					gs2 = "p=" + cbs[0] + ",,"
				}
				s1, _, err := ex.Step(context.Background(), []byte(gs2+"n=alice,r=abcdef"))
				if err != nil {
					t.Fatal(err)
				}
				_, attrs, _ := strings.Cut(string(s1), ",h=")
				if want := ssdpHash(h, mechs, cbs); attrs != want {
					t.Errorf("h=%s, want %s", attrs, want)
				}
				if attrs == ssdpHash(h, mechs[1:], cbs) || cbs != nil && attrs == ssdpHash(h, mechs, nil) {
					t.Error("the hash does not tell a shortened list")
				}
			})
		}
	}
}

// hashByMechanism returns the hash of a SCRAM mechanism name.
func hashByMechanism(mech string) (*hashInfo, bool) {
	for _, h := range hashesByStrength {
		if strings.TrimSuffix(mech, "-PLUS") == h.mech {
			return h, true
		}
	}
	return nil, false
}

// TestSSDPTampered checks that a server-first message whose hash a
// man in the middle replaced fails the exchange: the client's proof
// covers the message it saw.
func TestSSDPTampered(t *testing.T) {
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, _ := newTestServer(t, store, nil)
	r := runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, testPassword, "", nil)
	checkSuccess(t, r, "")

	ctx := context.Background()
	ex, err := srv.Start(ctx, "SCRAM-SHA-256", testDomain, nil, testRemote)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := scram.SHA256.NewClient(testUser, testPassword, "")
	conv := client.NewConversation()
	c1, _ := conv.Step("")
	s1, _, err := ex.Step(ctx, []byte(c1))
	if err != nil {
		t.Fatal(err)
	}
	rest, _, _ := strings.Cut(string(s1), ",h=")
	c2, err := conv.Step(rest + ",h=" + ssdpHash(hashSHA256, []string{"SCRAM-SHA-1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := ex.Step(ctx, []byte(c2)); done || condition(t, err) != NotAuthorized {
		t.Errorf("tampered hash: done %v, err %v", done, err)
	}
}

// TestHashes checks that Config.Hashes limits the SCRAM mechanisms
// offered and accepted.
func TestHashes(t *testing.T) {
	ec, _ := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	store := &memStore{}
	srv, err := NewServer(Config{Store: store, Secret: []byte("0123456789abcdef"), Hashes: []string{HashSHA256}, ServerCertificate: func(*tls.ConnectionState) *x509.Certificate { return ec.leaf }})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Mechanisms(s13); !slices.Equal(got, []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"}) {
		t.Errorf("mechanisms %v", got)
	}
	if _, err := srv.Start(context.Background(), "SCRAM-SHA-512", testDomain, s13, testRemote); condition(t, err) != InvalidMechanism {
		t.Errorf("SCRAM-SHA-512 started: %v", err)
	}
	for _, bad := range [][]string{{"MD5"}, {HashSHA1, HashSHA1}} {
		if _, err := NewServer(Config{Store: store, Secret: []byte("0123456789abcdef"), Hashes: bad}); err == nil {
			t.Errorf("hashes %q accepted", bad)
		}
	}
}

// VerifyPassword accepts the password the credentials were derived from,
// SASLprep-equivalent spellings of it, and nothing else.
func TestVerifyPassword(t *testing.T) {
	creds, err := DeriveCredentials("I\u00ADX", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		creds    []Credential
		password string
		want     bool
	}{
		{creds, "IX", true}, // SASLprep maps the soft hyphen to nothing
		{creds, "I\u00ADX", true},
		{creds, "ix", false},
		{creds, "", false},
		{creds[2:], "IX", true}, // SHA-1 only
		{nil, "IX", false},
	} {
		if got := VerifyPassword(tc.creds, tc.password); got != tc.want {
			t.Errorf("VerifyPassword(%d credentials, %q) = %v, want %v", len(tc.creds), tc.password, got, tc.want)
		}
	}
}
