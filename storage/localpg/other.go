//go:build !unix

package localpg

import (
	"context"
	"errors"
)

// Server is a private PostgreSQL cluster; this platform has none.
type Server struct{}

// Start reports that a private PostgreSQL needs a Unix system.
func Start(ctx context.Context, dir string, opts Options) (*Server, error) {
	return nil, errors.New("localpg: a private PostgreSQL server needs a Unix system: set database.url to use an existing PostgreSQL")
}

// URL returns the empty string.
func (s *Server) URL() string { return "" }

// Stop does nothing.
func (s *Server) Stop() error { return nil }

// Done returns a closed channel.
func (s *Server) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
