package auth

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"testing"
	"time"
	"xmppd/internal/clientaddr"

	"github.com/xdg-go/scram"
)

// fakeClock is a settable clock for the throttle.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestThrottleDelays(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	th := newThrottle(time.Second, 30*time.Second, time.Minute, 100, clk.now)
	var got []time.Duration
	for range 7 {
		got = append(got, th.failure("h"))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	// Another host is independent.
	if d := th.failure("other"); d != time.Second {
		t.Errorf("other host: %v", d)
	}
	// Decay: two quiet minutes take the count from 7 to 5, so the next is
	// the 6th failure.
	clk.t = clk.t.Add(2*time.Minute + time.Second)
	if n := th.pending("h"); n != 5 {
		t.Errorf("pending after decay = %d", n)
	}
	if d := th.failure("h"); d != 30*time.Second {
		t.Errorf("after decay: %v", d)
	}
	clk.t = clk.t.Add(4 * time.Minute)
	if d := th.failure("h"); d != 4*time.Second { // count 6-4 = 2, +1: the 3rd
		t.Errorf("after longer decay: %v", d)
	}
	// Fully decayed.
	clk.t = clk.t.Add(time.Hour)
	if d := th.failure("h"); d != time.Second {
		t.Errorf("after full decay: %v", d)
	}
}

func TestThrottleDisabled(t *testing.T) {
	th := newThrottle(-1, 30*time.Second, time.Minute, 100, time.Now)
	for range 5 {
		if d := th.failure("h"); d != 0 {
			t.Fatalf("disabled throttle delayed %v", d)
		}
	}
	if th.pending("h") != 0 {
		t.Error("disabled throttle remembered a host")
	}
}

func TestThrottleBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	const limit = 50
	th := newThrottle(time.Second, 30*time.Second, time.Minute, limit, clk.now)
	th.failure("first")
	th.failure("first")
	for i := range 10 * limit {
		th.failure(fmt.Sprintf("h%d", i))
		if len(th.entries) > limit || th.order.Len() != len(th.entries) {
			t.Fatalf("%d entries, list %d", len(th.entries), th.order.Len())
		}
	}
	if th.pending("first") != 0 {
		t.Error("oldest host was not evicted")
	}
	if th.pending(fmt.Sprintf("h%d", 10*limit-1)) != 1 {
		t.Error("newest host was evicted")
	}
	// Fully decayed entries are dropped as new failures arrive.
	clk.t = clk.t.Add(time.Hour)
	for i := range limit {
		th.failure(fmt.Sprintf("n%d", i))
	}
	if len(th.entries) != limit {
		t.Errorf("%d entries", len(th.entries))
	}
	clk.t = clk.t.Add(time.Hour)
	th.failure("x")
	if len(th.entries) > limit-2 { // one evicted for x, two stale dropped
		t.Errorf("stale entries not dropped: %d", len(th.entries))
	}
}

// TestServerThrottling checks the delays Step applies: they grow with the
// failures of one host, not of another, count every kind of failed guess,
// and a success does not reset them.
func TestServerThrottling(t *testing.T) {
	ec, _ := certs(t)
	s13, _ := tlsPair(t, tls.VersionTLS13, ec)
	store := &memStore{}
	store.add(t, testDomain, testUser, testPassword)
	srv, rec := newTestServer(t, store, nil)
	ctx := context.Background()
	plain := func(remote, msg string) string {
		ex, err := srv.Start(ctx, "PLAIN", testDomain, s13, remote)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ex.Step(ctx, []byte(msg))
		return condition(t, err)
	}
	const base = 10 * time.Millisecond
	steps := []struct {
		remote, msg, cond string
		delay             time.Duration // 0: none
	}{
		{"192.0.2.1:1", "\x00alice\x00bad", NotAuthorized, base},
		{"192.0.2.1:2", "\x00mallory\x00bad", NotAuthorized, 2 * base},
		{"192.0.2.1:3", "garbage", MalformedRequest, 4 * base},
		{"192.0.2.2:1", "\x00alice\x00bad", NotAuthorized, base},
		{"192.0.2.1:4", "bob\x00alice\x00" + testPassword, InvalidAuthzID, 0},
		{"192.0.2.1:5", "\x00alice\x00bad", NotAuthorized, 8 * base},
		{"192.0.2.1:6", "\x00alice\x00" + testPassword, "", 0},
		{"192.0.2.1:7", "\x00alice\x00bad", NotAuthorized, 16 * base},
	}
	for i, st := range steps {
		before := len(rec.get())
		if got := plain(st.remote, st.msg); got != st.cond {
			t.Fatalf("step %d: condition %q, want %q", i, got, st.cond)
		}
		d := rec.get()[before:]
		if st.delay == 0 && len(d) != 0 || st.delay != 0 && !slices.Equal(d, []time.Duration{st.delay}) {
			t.Errorf("step %d: delays %v, want %v", i, d, st.delay)
		}
	}
	// SCRAM failures count on the same host.
	r := runSCRAM(t, srv, "SCRAM-SHA-256", nil, flagN, scram.ChannelBinding{}, testUser, "bad", "", nil)
	if r.cond2 != NotAuthorized {
		t.Fatal(r.cond2)
	}
	if got := srv.throttle.pending(clientaddr.Key(testRemote)); got != 1 {
		t.Errorf("pending for %s = %d", testRemote, got)
	}
}

// TestFailureDelayHonoursContext checks that the real sleep ends when the
// context is done.
func TestFailureDelayHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() {
		sleepContext(ctx, time.Hour)
		close(done)
	}()
	<-done
}

// TestThrottleNotResetBySuccess: logging in to an account of one's own
// between guesses at another's does not keep the guesses at the first
// delay.
func TestThrottleNotResetBySuccess(t *testing.T) {
	store := &memStore{}
	store.add(t, testDomain, "victim", "secret-victim")
	store.add(t, testDomain, "mallory", "mallory-pw")
	srv, rec := newTestServer(t, store, nil)
	_, cs := tlsPair(t, 0x0304, func() testCert { c, _ := certs(t); return c }())
	plain := func(user, pw string) error {
		ex, err := srv.Start(context.Background(), "PLAIN", testDomain, cs, testRemote)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ex.Step(context.Background(), []byte("\x00"+user+"\x00"+pw))
		return err
	}
	for range 4 {
		if plain("victim", "guess") == nil {
			t.Fatal("a guess succeeded")
		}
		if err := plain("mallory", "mallory-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if d := rec.get(); len(d) != 4 || d[3] != 8*d[0] {
		t.Fatalf("delays %v, want each guess's twice the one before", d)
	}
}
