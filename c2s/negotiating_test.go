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
