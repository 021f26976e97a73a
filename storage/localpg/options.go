package localpg

// Options tune a private server.
type Options struct {
	// Fsync makes PostgreSQL flush its writes to disk (fsync,
	// synchronous_commit, full_page_writes on, and initdb syncs). Leave it
	// false only for throw-away data such as tests: with it false, a crash
	// of the machine can lose or corrupt committed data.
	Fsync bool
}
