//go:build unix

package localpg

import (
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// The database superuser of a cluster is named after the OS user that
// made it (initdb -U), which need not be the user running the command:
// an operator runs `sudo xmppd user add` while the server runs as its
// own system user. RunningURL must name the cluster's role, not guess it
// from who is asking.
func TestRunningURLNamesTheClusterOwnersRole(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the cluster to another user")
	}
	owner, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	dir := t.TempDir()
	pgdata := filepath.Join(dir, "pgdata")
	if err := os.Mkdir(pgdata, 0o700); err != nil {
		t.Fatal(err)
	}
	pid := "12345\n" + pgdata + "\n1700000000\n5432\n" + filepath.Join(dir, "run") + "\n\n1 2\nready\n"
	if err := os.WriteFile(filepath.Join(pgdata, "postmaster.pid"), []byte(pid), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pgdata, filepath.Join(pgdata, "postmaster.pid")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	got, err := RunningURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.User.Username() != owner.Username {
		t.Errorf("RunningURL = %s: role %q, want the cluster owner's %q", got, u.User.Username(), owner.Username)
	}
}
