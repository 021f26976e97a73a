package c2s

import "testing"

// TestNegotiatingPerAddress counts the streams of each address that are
// logging in, and refuses those over the bound but from loopback.
func TestNegotiatingPerAddress(t *testing.T) {
	srv := &Server{cfg: Config{NegotiatingPerAddress: 2}, negotiating: map[string]int{}}
	var hosts []string
	for range 2 {
		host, ok := srv.startNegotiating("192.0.2.1:5000")
		if !ok {
			t.Fatal("refused under the bound")
		}
		hosts = append(hosts, host)
	}
	if _, ok := srv.startNegotiating("192.0.2.1:5001"); ok {
		t.Fatal("a third stream from the address was counted")
	}
	if _, ok := srv.startNegotiating("[2001:db8::1]:5000"); !ok {
		t.Fatal("another address was refused")
	}
	for range 3 {
		if _, ok := srv.startNegotiating("127.0.0.1:5000"); !ok {
			t.Fatal("loopback was refused")
		}
	}
	srv.endNegotiating(hosts[0])
	if _, ok := srv.startNegotiating("192.0.2.1:5002"); !ok {
		t.Fatal("refused after one ended")
	}
}

// TestNegotiatingPerIPv6Prefix: the streams of one IPv6 /64, which one
// client usually holds whole (as the failed-login throttle and the
// registration limit count it), share one bound: else a client guessing
// passwords from a new address of its /64 for each stream logs in as
// many streams at once as it likes, each waiting out its own failure
// delay, and the throttle's delays slow it down not at all.
func TestNegotiatingPerIPv6Prefix(t *testing.T) {
	srv := &Server{cfg: Config{NegotiatingPerAddress: 2}, negotiating: map[string]int{}}
	for _, remote := range []string{"[2001:db8:1:2::1]:5000", "[2001:db8:1:2::2]:5000"} {
		if _, ok := srv.startNegotiating(remote); !ok {
			t.Fatalf("%s refused under the bound", remote)
		}
	}
	if _, ok := srv.startNegotiating("[2001:db8:1:2:ffff::3]:5000"); ok {
		t.Fatal("a third stream from the same /64 was counted")
	}
	if _, ok := srv.startNegotiating("[2001:db8:1:3::1]:5000"); !ok {
		t.Fatal("another /64 was refused")
	}
	// An IPv4 address, also written IPv4-mapped, is one address.
	for range 2 {
		if _, ok := srv.startNegotiating("192.0.2.7:5000"); !ok {
			t.Fatal("refused under the bound")
		}
	}
	if _, ok := srv.startNegotiating("[::ffff:192.0.2.7]:5001"); ok {
		t.Fatal("a third stream from the address, IPv4-mapped, was counted")
	}
	if _, ok := srv.startNegotiating("[::1]:5000"); !ok {
		t.Fatal("loopback was refused")
	}
}
