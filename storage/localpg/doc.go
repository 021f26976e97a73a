// Package localpg runs a private PostgreSQL server for xmppd when no
// database URL is configured.
//
// The cluster lives under one directory:
//
//	<dir>/pgdata        the PostgreSQL data directory (initdb)
//	<dir>/run           the Unix socket directory (or a short directory under
//	                    os.TempDir() when <dir> is too long for a socket path)
//	<dir>/postgres.log  what initdb and postgres print
//	<dir>/localpg.lock  held (flock) while a Server uses the directory
//
// The server listens on no TCP address, only on a Unix socket that only the
// user owning the cluster (and root) may use, with trust authentication.
// When xmppd runs as root the cluster belongs to the "postgres" system user,
// because PostgreSQL refuses to run as root.
package localpg
