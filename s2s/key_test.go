package s2s

import "testing"

// TestDialbackKey checks the worked example of XEP-0185 §3.
func TestDialbackKey(t *testing.T) {
	const want = "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"
	secret := []byte("s3cr3tf0rd14lb4ck")
	if got := dialbackKey(secret, "xmpp.example.com", "example.org", "D60000229F"); got != want {
		t.Errorf("key = %s, want %s", got, want)
	}
	if !keyMatches(secret, "xmpp.example.com", "example.org", "D60000229F", want) {
		t.Error("keyMatches refuses the right key")
	}
	for _, args := range [][3]string{
		{"example.org", "xmpp.example.com", "D60000229F"}, // directions swapped
		{"xmpp.example.com", "example.org", "D60000229G"}, // another stream
	} {
		if keyMatches(secret, args[0], args[1], args[2], want) {
			t.Errorf("keyMatches accepts the key for %q", args)
		}
	}
}
