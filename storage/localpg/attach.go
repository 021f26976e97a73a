package localpg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrInUse is returned by Start when another xmppd runs the cluster in dir.
var ErrInUse = errors.New("in use by another xmppd")

// RunningURL returns the URL of the database xmppd of the cluster that
// another process started in dir, so that commands such as `xmppd user
// add` work while the server runs. It reads the socket directory and port
// from postmaster.pid.
func RunningURL(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("localpg: attach: %w", err)
	}
	pid, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		return "", fmt.Errorf("localpg: attach to the running cluster in %s: %w", dir, err)
	}
	// Lines: pid, data directory, start time, port, socket directory, ...
	lines := strings.Split(string(pid), "\n")
	if len(lines) < 5 || lines[4] == "" {
		return "", fmt.Errorf("localpg: attach: %s/pgdata/postmaster.pid does not name a socket directory", dir)
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return "", fmt.Errorf("localpg: attach: bad port in postmaster.pid: %w", err)
	}
	s := &Server{sockDir: strings.TrimSpace(lines[4])}
	if err := s.identify(); err != nil {
		return "", err
	}
	return s.urlOnPort(database, port), nil
}
