package localpg

// Options tune a private server. The zero value is safe for real data.
type Options struct {
	// NoFsync turns off PostgreSQL's flushing of writes to disk (fsync,
	// synchronous_commit, full_page_writes, and initdb's syncs): faster,
	// but a crash of the machine can lose or corrupt committed data. Set
	// it only for throw-away data such as tests.
	NoFsync bool
}
