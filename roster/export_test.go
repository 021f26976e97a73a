package roster

// SetMaxDirected lowers maxDirected for a test and returns what puts it
// back.
func SetMaxDirected(n int) (restore func()) {
	old := maxDirected
	maxDirected = n
	return func() { maxDirected = old }
}
