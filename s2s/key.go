package s2s

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// dialbackKey is the key that proves a stream from originating to
// receiving with the given stream id (XEP-0185 §3): the hex HMAC-SHA256,
// keyed with the hex SHA-256 of the server's secret, of the receiving
// domain, the originating domain and the stream id, separated by spaces.
// Any node sharing the secret computes the same key.
func dialbackKey(secret []byte, receiving, originating, streamID string) string {
	h := sha256.Sum256(secret)
	mac := hmac.New(sha256.New, []byte(hex.EncodeToString(h[:])))
	mac.Write([]byte(receiving + " " + originating + " " + streamID))
	return hex.EncodeToString(mac.Sum(nil))
}

// keyMatches compares key with the expected one in constant time.
func keyMatches(secret []byte, receiving, originating, streamID, key string) bool {
	return hmac.Equal([]byte(key), []byte(dialbackKey(secret, receiving, originating, streamID)))
}
