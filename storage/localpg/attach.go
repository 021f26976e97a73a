package localpg

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	// The superuser is named after the OS user that made the cluster
	// (initdb -U), which owns the data directory, whoever asks now.
	if role := ownerName(filepath.Join(dir, "pgdata")); role != "" {
		s.role = role
	} else if err := s.identify(); err != nil {
		return "", err
	}
	return s.urlOnPort(database, port), nil
}

// ownerName returns the name of the user owning path, "" if unknown.
func ownerName(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}
