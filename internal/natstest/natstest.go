// Package natstest runs a NATS server inside a test process, for tests of
// xmppd nodes joined into a cluster.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server on 127.0.0.1 for one test.
type Server struct {
	*server.Server
}

// Start starts a NATS server on a free port of 127.0.0.1; it stops when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("starting NATS: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start within 10 s")
	}
	t.Cleanup(ns.Shutdown)
	return &Server{ns}
}

// URL is the address nodes connect to.
func (s *Server) URL() string { return s.ClientURL() }
