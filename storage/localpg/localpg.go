//go:build unix

package localpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// port only names the socket file: the server listens on no TCP port.
	port       = 5432
	socketName = ".s.PGSQL.5432"
	// socketPathMax is the longest socket path: sun_path holds 108 bytes
	// including the terminating NUL.
	socketPathMax = 107
	// database is the database Start creates for xmppd.
	database = "xmppd"
	// logRotateSize is the size beyond which Start moves postgres.log to
	// postgres.log.1 before writing more.
	logRotateSize = 8 << 20
)

// Server is a private PostgreSQL cluster under a data directory, reachable
// only over a Unix socket. Its methods may be called from any goroutine.
type Server struct {
	dir      string   // as given to Start, absolute
	dataDir  string   // dir/pgdata
	sockDir  string   // socket directory
	tempSock bool     // sockDir is a temporary directory of ours
	role     string   // database superuser, named after the cluster's OS user
	owner    *osUser  // the OS user to run as; nil: ourselves
	bin      string   // directory of initdb, pg_ctl and postgres
	lock     *os.File // flock'ed while the Server uses dir
	log      *os.File // dir/postgres.log
	proc     *os.Process
	exited   chan struct{} // closed once postgres has exited
	exitErr  error         // why, valid once exited is closed
	stopOnce sync.Once
	stopErr  error
}

// osUser is the system user postgres runs as when xmppd runs as root.
type osUser struct {
	uid, gid uint32
	groups   []uint32
}

// Start initialises dir (initdb, if not yet done) and starts postgres on a
// Unix socket inside dir, creates the database "xmppd" if it is missing, and
// returns once that database accepts connections. ctx bounds the start, not
// the server's life.
//
// The binaries are looked up in PATH, then in /usr/lib/postgresql/*/bin and
// similar places, newest version first; for an existing cluster, the first
// of the version that made it. Running as root, the cluster is owned and run
// by the "postgres" system user, and dir and its parents are made searchable
// by it.
//
// A postgres left running in dir by an earlier, dead xmppd is stopped first
// (fast shutdown); a stale postmaster.pid from a crash does not prevent the
// start. Only one Server at a time may use dir: a second Start fails while
// the first is running, in this process or another. A postgres that fails to
// become ready is stopped before Start returns its error, which quotes the
// end of dir/postgres.log.
//
// On Linux, postgres gets a fast-shutdown signal when the process that
// started it exits, however it exits.
func Start(ctx context.Context, dir string, opts Options) (_ *Server, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("localpg: start: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localpg: start: %w", err)
	}
	s := &Server{dir: dir, dataDir: filepath.Join(dir, "pgdata")}
	if err := s.lockDir(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.release()
			err = fmt.Errorf("localpg: start in %s: %w", dir, err)
		}
	}()
	if err := s.identify(); err != nil {
		return nil, err
	}
	if s.owner != nil {
		if err := makeSearchable(dir, s.owner); err != nil {
			return nil, err
		}
	}
	if err := s.openLog(); err != nil {
		return nil, err
	}
	initialised, version, err := s.clusterVersion()
	if err != nil {
		return nil, err
	}
	if s.bin, err = findBinaries(version); err != nil {
		return nil, err
	}
	if !initialised {
		if err := s.initdb(ctx, opts); err != nil {
			return nil, err
		}
	}
	if err := s.stopLeftover(ctx); err != nil {
		return nil, err
	}
	if err := s.makeSocketDir(); err != nil {
		return nil, err
	}
	if err := s.startPostgres(ctx, opts); err != nil {
		return nil, err
	}
	if err := s.createDatabase(ctx); err != nil {
		s.shutdown()
		return nil, err
	}
	return s, nil
}

// URL returns the pgx connection URL of the database xmppd through the
// socket, such as
// postgres://postgres@/xmppd?host=%2Fvar%2Flib%2Fxmppd%2Fdb%2Frun&port=5432&sslmode=disable.
func (s *Server) URL() string {
	return s.url(database)
}

func (s *Server) url(db string) string { return s.urlOnPort(db, port) }

func (s *Server) urlOnPort(db string, port int) string {
	u := url.URL{Scheme: "postgres", User: url.User(s.role), Path: "/" + db,
		RawQuery: "host=" + queryEscape(s.sockDir) + "&port=" + strconv.Itoa(port) + "&sslmode=disable"}
	return u.String()
}

// queryEscape escapes a URL query value as pgx (like libpq) decodes it:
// with %20, not +, for a space.
func queryEscape(v string) string {
	return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
}

// Done returns a channel closed when postgres has exited, whether stopped
// by Stop or not.
func (s *Server) Done() <-chan struct{} {
	return s.exited
}

// Stop stops postgres with a fast shutdown (sessions are ended, a
// checkpoint written) and waits for it to exit. It is an error if postgres
// had already exited before Stop. Calls after the first return the first
// one's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = fmt.Errorf("localpg: stop: postgres had already exited: %v", s.exitErr)
		default:
			if err := s.shutdown(); err != nil {
				s.stopErr = fmt.Errorf("localpg: stop: %w", err)
			}
		}
		s.release()
	})
	return s.stopErr
}

// shutdown asks postgres for a fast shutdown and waits; if it does not
// exit in time, it escalates to an immediate shutdown, then SIGKILL.
func (s *Server) shutdown() error {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 2 * time.Minute}, {syscall.SIGQUIT, 10 * time.Second}, {syscall.SIGKILL, 10 * time.Second}}
	for i, step := range steps {
		s.proc.Signal(step.sig)
		t := time.NewTimer(step.wait)
		select {
		case <-s.exited:
			t.Stop()
			if i > 0 {
				return fmt.Errorf("postgres did not stop on %v; sent %v", steps[0].sig, step.sig)
			}
			return nil
		case <-t.C:
		}
	}
	return errors.New("postgres does not exit")
}

// release gives up what Start took: the socket directory if temporary, the
// log file and the directory lock.
func (s *Server) release() {
	if s.tempSock {
		os.RemoveAll(s.sockDir)
	}
	if s.log != nil {
		s.log.Close()
	}
	if s.lock != nil {
		s.lock.Close() // drops the flock
	}
}

// lockDir takes an exclusive flock on dir/localpg.lock for the life of the
// Server, so that two xmppd never share one cluster. The kernel drops it
// when the process dies.
func (s *Server) lockDir() error {
	f, err := os.OpenFile(filepath.Join(s.dir, "localpg.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("localpg: start: %w", err)
	}
	// A lock just dropped by this process may live on for a moment in a
	// child that another goroutine forked and that has not run exec yet
	// (the descriptor is close-on-exec): a holder is given a second to go.
	for try := 0; try < 20; try++ {
		if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("localpg: start: %s: %w", s.dir, ErrInUse)
		}
		return fmt.Errorf("localpg: start: lock %s: %w", s.dir, err)
	}
	s.lock = f
	return nil
}

// identify decides which OS user runs the cluster and names the database
// superuser after it.
func (s *Server) identify() error {
	if os.Geteuid() != 0 {
		s.role = "postgres"
		if u, err := user.Current(); err == nil && u.Username != "" {
			s.role = u.Username
		}
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root, which PostgreSQL refuses, and there is no \"postgres\" user to run it as (%v): install PostgreSQL (on Debian/Ubuntu: apt-get install postgresql), run xmppd as another user, or set database.url", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("user postgres: %w", err)
	}
	o := &osUser{uid: uint32(uid), gid: uint32(gid)}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			o.groups = append(o.groups, uint32(n))
		}
	}
	if !slices.Contains(o.groups, o.gid) {
		o.groups = append(o.groups, o.gid)
	}
	s.owner, s.role = o, "postgres"
	return nil
}

// makeSearchable lets u search (traverse) dir and each of its parents,
// adding the search bit for others where u has none.
func makeSearchable(dir string, u *osUser) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var searchable bool
		switch {
		case st.Uid == u.uid:
			searchable = perm&0o100 != 0
		case slices.Contains(u.groups, st.Gid):
			searchable = perm&0o010 != 0
		default:
			searchable = perm&0o001 != 0
		}
		if !searchable {
			if err := os.Chmod(p, fi.Mode()&fs.ModePerm|fi.Mode()&(fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky)|0o001); err != nil {
				return fmt.Errorf("let user postgres search %s: %w", p, err)
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// chown gives path to the cluster's owner, when that is not us.
func (s *Server) chown(path string) error {
	if s.owner == nil {
		return nil
	}
	return os.Chown(path, int(s.owner.uid), int(s.owner.gid))
}

// openLog opens dir/postgres.log for appending, first moving it to
// postgres.log.1 if it has grown large.
func (s *Server) openLog() error {
	name := filepath.Join(s.dir, "postgres.log")
	if fi, err := os.Stat(name); err == nil && fi.Size() > logRotateSize {
		os.Rename(name, name+".1")
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	s.log = f
	return nil
}

// logOffset returns the current size of the log, to quote what follows.
func (s *Server) logOffset() int64 {
	fi, err := s.log.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logTail returns up to the last 2000 bytes written to the log after off.
func (s *Server) logTail(off int64) string {
	f, err := os.Open(s.log.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	if end, err := f.Seek(0, io.SeekEnd); err == nil && end-off > 2000 {
		off = end - 2000
	}
	f.Seek(off, io.SeekStart)
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// withLog appends the log written since off to err.
func (s *Server) withLog(err error, off int64) error {
	if tail := s.logTail(off); tail != "" {
		return fmt.Errorf("%w; %s says:\n%s", err, s.log.Name(), tail)
	}
	return err
}

// clusterVersion reports whether the data directory holds a cluster, and
// the major version of PostgreSQL that made it.
func (s *Server) clusterVersion() (bool, string, error) {
	b, err := os.ReadFile(filepath.Join(s.dataDir, "PG_VERSION"))
	if err == nil {
		return true, strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, "", err
	}
	// No cluster: the data directory must be missing or empty.
	entries, err := os.ReadDir(s.dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	if len(entries) > 0 {
		return false, "", fmt.Errorf("%s is not empty but holds no PostgreSQL cluster (no PG_VERSION)", s.dataDir)
	}
	return false, "", os.Remove(s.dataDir)
}

// candidateDirs returns the directories that may hold the PostgreSQL server
// binaries, in order of preference: PATH, then the usual installation
// directories, newest version first.
func candidateDirs() []string {
	var dirs []string
	if p, err := exec.LookPath("postgres"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if p, err := filepath.Abs(p); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
		"/usr/pgsql-*/bin",                   // PGDG RPMs
		"/usr/local/opt/postgresql@*/bin",    // Homebrew, Intel
		"/opt/homebrew/opt/postgresql@*/bin", // Homebrew, Apple silicon
		"/usr/local/pgsql/bin",               // built from source
	} {
		matches, _ := filepath.Glob(pattern)
		slices.SortFunc(matches, func(a, b string) int { return compareVersions(versionOf(b), versionOf(a)) })
		dirs = append(dirs, matches...)
	}
	return dirs
}

// versionOf extracts the version number from a directory name such as
// /usr/lib/postgresql/15/bin or /usr/pgsql-9.6/bin.
func versionOf(dir string) string {
	for _, part := range strings.FieldsFunc(dir, func(r rune) bool { return r == '/' || r == '-' || r == '@' }) {
		if part != "" && strings.Trim(part, "0123456789.") == "" {
			return part
		}
	}
	return ""
}

// compareVersions compares dotted version numbers numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// majorVersion runs postgres -V in bin and returns its major version: "15"
// for "postgres (PostgreSQL) 15.4", "9.6" for 9.6.24.
func majorVersion(bin string) string {
	out, err := exec.Command(filepath.Join(bin, "postgres"), "-V").Output()
	if err != nil {
		return ""
	}
	_, v, ok := strings.Cut(string(out), ") ")
	if !ok {
		return ""
	}
	fields := strings.FieldsFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if len(fields) == 0 {
		return ""
	}
	parts := strings.Split(fields[0], ".")
	if n, _ := strconv.Atoi(parts[0]); n < 10 && len(parts) > 1 {
		return parts[0] + "." + parts[1]
	}
	return parts[0]
}

// findBinaries returns the first candidate directory holding initdb, pg_ctl
// and postgres, of major version want if want is not empty.
func findBinaries(want string) (string, error) {
	var found []string
	for _, dir := range candidateDirs() {
		if slices.Contains(found, dir) || !hasBinaries(dir) {
			continue
		}
		found = append(found, dir)
		if want == "" || majorVersion(dir) == want {
			return dir, nil
		}
	}
	if len(found) == 0 {
		return "", errors.New("no PostgreSQL server binaries (initdb, postgres) in PATH or /usr/lib/postgresql/*/bin: install PostgreSQL (on Debian/Ubuntu: apt-get install postgresql) or set database.url to use an existing server")
	}
	var have []string
	for _, dir := range found {
		have = append(have, majorVersion(dir)+" in "+dir)
	}
	return "", fmt.Errorf("the cluster was made by PostgreSQL %s but only PostgreSQL %s is installed: install PostgreSQL %s (on Debian/Ubuntu: apt-get install postgresql-%s) or upgrade the cluster with pg_upgrade", want, strings.Join(have, ", "), want, want)
}

func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// procAttr returns the process attributes of every PostgreSQL program: its
// own process group, so that a Ctrl-C meant for xmppd does not stop the
// database under it, and the cluster owner's identity.
func (s *Server) procAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if s.owner != nil {
		attr.Credential = &syscall.Credential{Uid: s.owner.uid, Gid: s.owner.gid, Groups: s.owner.groups}
	}
	return attr
}

// env returns our environment without the PG* variables that would steer
// the PostgreSQL programs elsewhere, in the C locale.
func env() []string {
	var e []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		e = append(e, kv)
	}
	return append(e, "LC_ALL=C")
}

// command prepares a short-lived PostgreSQL program, killed with its
// process group if ctx ends, writing to the log.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.SysProcAttr = s.procAttr()
	cmd.Env = env()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// initdb creates the cluster in a temporary directory and renames it into
// place, so that an interrupted initdb never leaves a half-made cluster.
func (s *Server) initdb(ctx context.Context, opts Options) error {
	tmp := s.dataDir + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	if err := s.chown(tmp); err != nil {
		return err
	}
	args := []string{"-D", tmp, "-U", s.role, "-E", "UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=reject"}
	if opts.NoFsync {
		args = append(args, "--no-sync")
	}
	off := s.logOffset()
	if err := s.command(ctx, "initdb", args...).Run(); err != nil {
		os.RemoveAll(tmp)
		return s.withLog(fmt.Errorf("initdb: %w", err), off)
	}
	if err := os.Rename(tmp, s.dataDir); err != nil {
		return err
	}
	if !opts.NoFsync {
		if d, err := os.Open(s.dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

// stopLeftover deals with the postmaster.pid of an earlier run. A postgres
// still running in the data directory belongs to a dead xmppd (we hold the
// directory lock), so it is stopped. A pid file naming a live process that
// is not that postgres (its pid reused after a crash, or an unreaped zombie)
// is removed, since postgres would refuse to start; one naming a dead
// process postgres handles itself.
func (s *Server) stopLeftover(ctx context.Context) error {
	pidFile := filepath.Join(s.dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return os.Remove(pidFile) // torn or garbage
	}
	switch s.postmasterState(pid) {
	case processGone:
		return nil
	case processOther:
		return os.Remove(pidFile)
	}
	off := s.logOffset()
	if err := s.command(ctx, "pg_ctl", "stop", "-D", s.dataDir, "-m", "fast", "-w", "-t", "120").Run(); err != nil {
		if s.postmasterState(pid) == processPostmaster {
			return s.withLog(fmt.Errorf("stop the postgres (pid %d) left running by an earlier xmppd: %w", pid, err), off)
		}
	}
	return nil
}

type processState int

const (
	processGone       processState = iota // no such process, or a zombie
	processOther                          // a live process, not our postmaster
	processPostmaster                     // the postmaster of our data directory
)

// postmasterState tells what process pid is. On Linux a postmaster is
// recognised by its working directory, which is the data directory;
// elsewhere any live process counts as one.
func (s *Server) postmasterState(pid int) processState {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return processGone
	}
	if _, err := os.Stat("/proc/self/cwd"); err != nil {
		return processPostmaster // no /proc: assume the worst
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			// A zombie nobody reaps (as in containers whose init does
			// not): postgres would take it for a live postmaster.
			return processOther
		}
		return processGone
	case err != nil:
		return processOther // another user's process: not ours
	}
	want, err := filepath.EvalSymlinks(s.dataDir)
	if err != nil {
		want = s.dataDir
	}
	if cwd == want {
		return processPostmaster
	}
	return processOther
}

// makeSocketDir prepares an empty socket directory: dir/run, or a new
// directory under the temporary directory if dir is too long for a socket
// path or holds a comma (which separates hosts in connection strings).
func (s *Server) makeSocketDir() error {
	s.sockDir = filepath.Join(s.dir, "run")
	if len(s.sockDir)+1+len(socketName) > socketPathMax || strings.Contains(s.sockDir, ",") {
		var err error
		s.sockDir, err = os.MkdirTemp("", "xmppd-pg-")
		if err == nil && len(s.sockDir)+1+len(socketName) > socketPathMax {
			os.Remove(s.sockDir)
			s.sockDir, err = os.MkdirTemp("/tmp", "xmppd-pg-")
		}
		if err != nil {
			return fmt.Errorf("socket directory: %w", err)
		}
		s.tempSock = true
	} else {
		// Old socket lock files may name a reused pid: start afresh.
		if err := os.RemoveAll(s.sockDir); err != nil {
			return err
		}
		if err := os.Mkdir(s.sockDir, 0o700); err != nil {
			return err
		}
	}
	if s.owner != nil {
		if err := makeSearchable(filepath.Dir(s.sockDir), s.owner); err != nil {
			return err
		}
	}
	return s.chown(s.sockDir)
}

// startPostgres starts postgres and waits until it accepts connections. A
// start refused because processes of a killed postgres are still attached
// to its shared memory is retried while they go away.
func (s *Server) startPostgres(ctx context.Context, opts Options) error {
	args := []string{"-D", s.dataDir,
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories=" + quoteListItem(s.sockDir),
		"-c", "unix_socket_permissions=0700",
		"-c", "port=" + strconv.Itoa(port),
		"-c", "max_connections=200",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
	}
	if opts.NoFsync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		off := s.logOffset()
		err := s.spawn(args)
		if err == nil {
			err = s.waitReady(ctx)
		}
		if err == nil {
			return nil
		}
		tail := s.logTail(off)
		retry := errors.Is(err, errExited) && time.Now().Before(deadline) &&
			(strings.Contains(tail, "pre-existing shared memory block") || strings.Contains(tail, "lock file"))
		if !retry {
			return s.withLog(err, off)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.withLog(err, off)
		case <-t.C:
		}
	}
}

// quoteListItem quotes a directory for a list setting such as
// unix_socket_directories, whose items are separated by commas.
func quoteListItem(dir string) string {
	return `"` + strings.ReplaceAll(dir, `"`, `""`) + `"`
}

var errExited = errors.New("postgres exited")

// spawn starts postgres from a goroutine locked to its OS thread for the
// life of postgres, since the parent-death signal follows the thread that
// started the child, not the process.
func (s *Server) spawn(args []string) error {
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	attr := s.procAttr()
	setParentDeathSignal(attr)
	cmd.SysProcAttr = attr
	cmd.Env = env()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, once
		// postgres has exited.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.exitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.proc, s.exited = cmd.Process, exited
	return nil
}

// waitReady polls until postgres accepts connections, exits, or ctx ends;
// in the last two cases postgres is not running when it returns.
func (s *Server) waitReady(ctx context.Context) error {
	delay := 5 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, s.url("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-s.exited:
			t.Stop()
			return fmt.Errorf("%w while starting: %v", errExited, s.exitErr)
		case <-ctx.Done():
			t.Stop()
			s.shutdown()
			return fmt.Errorf("postgres not ready: %w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// createDatabase creates the database xmppd if it does not exist.
func (s *Server) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, database).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+database); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	return nil
}
