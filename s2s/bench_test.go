package s2s_test

import (
	"strconv"
	"testing"
)

// BenchmarkMessageToAnotherServer measures a chat message from alice on
// a.test to bob on b.test, from her stream to his, with the sender's
// archive and the outbox on: one in flight at a time, so it is latency.
func BenchmarkMessageToAnotherServer(b *testing.B) {
	_, _, alice, bob := federated(b)
	alice.Send("<message to='bob@b.test' type='chat'><body>warm up</body></message>")
	bob.NextNamed("message")
	b.ResetTimer()
	for i := range b.N {
		alice.Send("<message to='bob@b.test' type='chat'><body>" + strconv.Itoa(i) + "</body></message>")
		bob.NextNamed("message")
	}
}
