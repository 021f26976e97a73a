package clientaddr

import "testing"

func TestKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.7:5222", "192.0.2.7"},
		{"192.0.2.7", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5222", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:5222", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::9", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1%eth0]:5222", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:5222", "fe80::/64"},
		{"example.net:5222", "example.net"},
		{"pipe", "pipe"},
		{"", ""},
		{"@garbage", "@garbage"},
	}
	for _, tc := range tests {
		if got := Key(tc.remote); got != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for remote, want := range map[string]bool{
		"127.0.0.1:5222": true, "[::1]:5222": true, "[::ffff:127.0.0.1]:1": true,
		"192.0.2.7:5222": false, "[2001:db8::1]:1": false, "pipe": false,
	} {
		if got := IsLoopback(remote); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", remote, got, want)
		}
	}
}
