package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

// FuzzExchange feeds arbitrary client messages to every mechanism, with and
// without TLS; the exchange must never panic, must fail only with a
// *Failure, and must never succeed for a wrong password. In the second and
// third messages "{R}" is replaced by the nonce of the server-first message
// so that the fuzzer reaches the proof check.
func FuzzExchange(f *testing.F) {
	ec, _ := certs(f)
	s13, c13 := tlsPair(f, tls.VersionTLS13, ec)
	s12, _ := tlsPair(f, tls.VersionTLS12, ec)
	states := []*tls.ConnectionState{nil, s13, s12}
	store := &memStore{}
	store.add(f, testDomain, testUser, testPassword)
	srv, _ := newTestServer(f, store, ec.leaf)
	srv.sleep = func(context.Context, time.Duration) {}
	mechs := mechanisms(hashesByStrength, true, true)

	exp, _ := scram.NewTLSExporterBinding(c13)
	seed := func(mech, state uint8, cb scram.ChannelBinding, f1 flag) {
		client, _ := scram.SHA256.NewClient(testUser, "not the password", "")
		var conv *scram.ClientConversation
		switch f1 {
		case flagN:
			conv = client.NewConversation()
		case flagY:
			conv = client.NewConversationAdvertisingChannelBinding()
		default:
			conv = client.NewConversationWithChannelBinding(cb)
		}
		c1, _ := conv.Step("")
		f.Add(mech, state, []byte(c1), []byte("c=biws,r={R},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), []byte(""))
	}
	for i, m := range mechs {
		switch {
		case m.name == "PLAIN":
			f.Add(uint8(i), uint8(1), []byte("\x00alice\x00pw"), []byte(nil), []byte(nil))
			f.Add(uint8(i), uint8(1), []byte("a@b\x00alice\x00pw"), []byte(nil), []byte(nil))
		case m.plus:
			seed(uint8(i), 1, exp, flagP)
		default:
			seed(uint8(i), 0, scram.ChannelBinding{}, flagN)
			seed(uint8(i), 1, scram.ChannelBinding{}, flagY)
		}
	}
	f.Add(uint8(4), uint8(0), []byte(""), []byte("n,a=x,n=y,r=z"), []byte("c=eSxhPXgs,r={R},p="))
	f.Add(uint8(4), uint8(0), []byte("n,,n=alice,r=a,m=x"), []byte("c=biws,r={R},e=1,p=AA=="), []byte("x"))

	f.Fuzz(func(t *testing.T, mech, state uint8, m1, m2, m3 []byte) {
		ctx := context.Background()
		m := mechs[int(mech)%len(mechs)]
		cs := states[int(state)%len(states)]
		ex, err := srv.Start(ctx, m.name, testDomain, cs, testRemote)
		if err != nil {
			var fl *Failure
			if !errors.As(err, &fl) {
				t.Fatalf("Start error %T", err)
			}
			return
		}
		nonce := ""
		for _, msg := range [][]byte{m1, m2, m3} {
			msg = bytes.ReplaceAll(msg, []byte("{R}"), []byte(nonce))
			out, done, err := ex.Step(ctx, msg)
			if done {
				t.Fatalf("authenticated with fuzz input %q", msg)
			}
			if err != nil {
				var fl *Failure
				if !errors.As(err, &fl) {
					t.Fatalf("Step error %T", err)
				}
				return
			}
			if r, _, ok := strings.Cut(string(out), ","); ok && strings.HasPrefix(r, "r=") {
				nonce = r[2:]
			}
		}
	})
}
