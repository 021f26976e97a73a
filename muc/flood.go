package muc

import "time"

// DefaultFloodBurst is how many messages an occupant may send at once,
// after being quiet, when a FloodRate is set without a FloodBurst.
const DefaultFloodBurst = 20

// bucket is an occupant's token bucket: it holds up to burst messages and
// refills at rate per second. The room's lock guards it.
type bucket struct {
	tokens float64
	last   time.Time
}

// allow takes one message from b at now, if there is one.
func (b *bucket) allow(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
