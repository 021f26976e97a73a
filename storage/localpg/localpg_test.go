//go:build unix

package localpg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func start(t *testing.T, dir string, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	s, err := Start(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start took %v", time.Since(begin))
	return s
}

func stop(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

func connect(t *testing.T, s *Server) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), s.URL())
	if err != nil {
		t.Fatalf("connect to %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec1(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM kept`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStartStopStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, Options{NoFsync: true})
	if !strings.HasPrefix(s.URL(), "postgres://") || !strings.Contains(s.URL(), "/xmppd?") {
		t.Errorf("URL() = %q", s.URL())
	}
	conn := connect(t, s)
	var db, user string
	var listen string
	if err := conn.QueryRow(context.Background(), `SELECT current_database(), current_user, current_setting('listen_addresses')`).Scan(&db, &user, &listen); err != nil {
		t.Fatal(err)
	}
	if db != "xmppd" || listen != "" {
		t.Errorf("database %q, listen_addresses %q; want xmppd and none", db, listen)
	}
	if os.Geteuid() == 0 && user != "postgres" {
		t.Errorf("user %q; want postgres when run as root", user)
	}
	exec1(t, conn, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)`)
	conn.Close(context.Background())
	stop(t, s)
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}

	s = start(t, dir, Options{NoFsync: true})
	defer stop(t, s)
	if n := count(t, connect(t, s)); n != 1 {
		t.Errorf("after restart, %d rows; want 1", n)
	}
}

func TestSecondStartRefused(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), `a "quoted" spaced dir`)
	s := start(t, dir, Options{NoFsync: true})
	defer stop(t, s)
	_, err := Start(context.Background(), dir, Options{NoFsync: true})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Start on a running directory: %v; want an error saying it is in use", err)
	}
	connect(t, s) // still fine
}

// TestCrash kills the postmaster with SIGKILL, then starts again on the
// same directory, first with a plain stale pid file and then with one whose
// pid now belongs to another live process.
func TestCrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir, Options{})
	conn := connect(t, s)
	exec1(t, conn, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)`)

	crash := func(s *Server) {
		t.Helper()
		if err := syscall.Kill(s.proc.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-s.Done()
		// The xmppd owning s is "dead" too: drop its directory lock.
		if err := s.Stop(); err == nil {
			t.Error("Stop after a crash did not report it")
		}
		if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); err != nil {
			t.Fatalf("no stale postmaster.pid to test with: %v", err)
		}
	}
	crash(s)
	s = start(t, dir, Options{})
	conn = connect(t, s)
	if n := count(t, conn); n != 1 {
		t.Errorf("after crash, %d rows; want 1", n)
	}
	exec1(t, conn, `INSERT INTO kept VALUES (2)`)
	crash(s)

	// After a reboot or in a container, the old pid may be someone else's.
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	pidFile := filepath.Join(dir, "pgdata", "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "\n")
	if err := os.WriteFile(pidFile, fmt.Appendf(nil, "%d\n%s", sleep.Process.Pid, rest), 0o600); err != nil {
		t.Fatal(err)
	}
	s = start(t, dir, Options{})
	defer stop(t, s)
	if n := count(t, connect(t, s)); n != 2 {
		t.Errorf("after second crash, %d rows; want 2", n)
	}
}

// TestLeftoverPostgres starts on a directory whose postgres is still running
// though the xmppd that started it is gone.
func TestLeftoverPostgres(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := start(t, dir, Options{NoFsync: true})
	exec1(t, connect(t, old), `CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)`)
	old.lock.Close() // as if its xmppd had died, leaving postgres running

	s := start(t, dir, Options{NoFsync: true})
	defer stop(t, s)
	select {
	case <-old.Done():
	default:
		t.Error("the leftover postgres is still running")
	}
	if n := count(t, connect(t, s)); n != 1 {
		t.Errorf("%d rows; want 1", n)
	}
}

func TestLongDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "with space, comma")
	for len(dir) < 120 {
		dir = filepath.Join(dir, "a-rather-long-directory-name")
	}
	s := start(t, dir, Options{NoFsync: true})
	if len(s.sockDir)+1+len(socketName) > socketPathMax || !s.tempSock {
		t.Errorf("socket directory %s", s.sockDir)
	}
	connect(t, s)
	stop(t, s)
	if _, err := os.Stat(s.sockDir); !os.IsNotExist(err) {
		t.Errorf("temporary socket directory left behind: %v", err)
	}
}

func TestCommaDirectory(t *testing.T) {
	t.Parallel()
	s := start(t, filepath.Join(t.TempDir(), "a,b"), Options{NoFsync: true})
	defer stop(t, s)
	if !s.tempSock {
		t.Errorf("socket directory %s", s.sockDir)
	}
	connect(t, s)
}

func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		dir, want string
	}{
		{"/usr/lib/postgresql/15/bin", "15"},
		{"/usr/pgsql-9.6/bin", "9.6"},
		{"/opt/homebrew/opt/postgresql@17/bin", "17"},
		{"/usr/local/pgsql/bin", ""},
	} {
		if got := versionOf(tc.dir); got != tc.want {
			t.Errorf("versionOf(%q) = %q; want %q", tc.dir, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		sign int
	}{{"9.6", "10", -1}, {"15", "15", 0}, {"17", "16", 1}, {"", "9", -1}} {
		got := compareVersions(tc.a, tc.b)
		if (got < 0 && tc.sign >= 0) || (got > 0 && tc.sign <= 0) || (got == 0 && tc.sign != 0) {
			t.Errorf("compareVersions(%q, %q) = %d", tc.a, tc.b, got)
		}
	}
}
