package turns

import (
	"slices"
	"testing"
)

// Work runs in the order the turns were taken, whatever order Run is
// called in, and a skipped turn holds nothing up.
func TestRunInTakenOrder(t *testing.T) {
	var qs Queues
	first, skipped, third := qs.Take("a"), qs.Take("a"), qs.Take("a")
	other := qs.Take("b")
	var ran []string
	done := make(chan struct{})
	go func() { third.Run(func() { ran = append(ran, "third") }); close(done) }()
	other.Run(func() {}) // another key waits for none of them
	skipped.Skip()
	first.Run(func() { ran = append(ran, "first") })
	<-done
	if want := []string{"first", "third"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v, want %v", ran, want)
	}
}
