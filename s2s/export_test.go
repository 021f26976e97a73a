package s2s

// Bounds on what authenticated peers hold, for the tests of package
// s2s_test.
const (
	MaxPairsPerStream = maxPairsPerStream
	MaxStreamsPerPair = maxStreamsPerPair
)
