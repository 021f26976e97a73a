package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/config"
	"xmppd/internal/natstest"
	"xmppd/internal/xmpptest"
	"xmppd/server"
)

// startBeside starts a server with cfg on the database of a running one,
// and returns the error it failed with.
func startBeside(t *testing.T, cfg config.Config) error {
	t.Helper()
	cfg.DataDir = t.TempDir()
	cfg.C2S.Listen, cfg.C2S.ListenTLS, cfg.HTTP.Listen, cfg.HTTP.ListenTLS = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	srv, err := server.New(context.Background(), cfg, xmpptest.NewRecords().Logger())
	if err == nil {
		srv.Shutdown(context.Background())
		return nil
	}
	return err
}

// Two servers that are not nodes of one cluster must not share a
// database: each would believe it owns every session, and both would
// draw archive ids without ordering them. The second one fails to start,
// saying what to do; so does a cluster node beside a server that is not
// clustered, and a server that is not clustered beside a cluster node.
func TestServersSharingADatabaseMustBeClustered(t *testing.T) {
	t.Run("neither clustered", func(t *testing.T) {
		a := xmpptest.Start(t)
		err := startBeside(t, a.Config)
		if err == nil || !strings.Contains(err.Error(), "cluster.nats") || !strings.Contains(err.Error(), "database.url") {
			t.Fatalf("a second server on the database of another started, or failed with %v; want an error naming cluster.nats and database.url", err)
		}
		t.Logf("refused: %v", err)
	})
	t.Run("cluster node beside a server", func(t *testing.T) {
		a := xmpptest.Start(t)
		cfg := a.Config
		cfg.Cluster.NATS = natstest.Start(t).URL()
		if err := startBeside(t, cfg); err == nil || !strings.Contains(err.Error(), "not a cluster node") {
			t.Fatalf("a cluster node started beside a server that is not clustered, or failed with %v", err)
		}
	})
	t.Run("server beside a cluster node", func(t *testing.T) {
		a := xmpptest.Start(t, func(c *config.Config) { c.Cluster.NATS = natstest.Start(t).URL() })
		cfg := a.Config
		cfg.Cluster.NATS = ""
		if err := startBeside(t, cfg); err == nil || !strings.Contains(err.Error(), "cluster.nats") {
			t.Fatalf("a server that is not clustered started beside a cluster node, or failed with %v", err)
		}
	})
}

// nodeLockHolder returns the process id of the database session of s's
// node connection.
func nodeLockHolder(t *testing.T, db *pgxpool.Pool) int32 {
	t.Helper()
	var pid int32
	if err := db.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE application_name = 'xmppd delete listener ' || current_schema()`).Scan(&pid); err != nil {
		t.Fatalf("finding the server's node connection: %v", err)
	}
	return pid
}

// A server whose node connection drops takes the node lock again when it
// connects again, and still keeps a second server out.
func TestNodeLockTakenAgainAfterTheConnectionDrops(t *testing.T) {
	a := xmpptest.Start(t)
	ctx := context.Background()
	lost := nodeLockHolder(t, a.DB)
	if _, err := a.DB.Exec(ctx, `SELECT pg_terminate_backend($1)`, lost); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute) // a bound, not a timing
	for {
		var held bool
		if err := a.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			WHERE l.locktype = 'advisory' AND l.granted AND a.pid <> $1
			AND a.application_name = 'xmppd delete listener ' || current_schema())`, lost).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the server did not take the node lock again after its connection dropped")
		}
	}
	if err := startBeside(t, a.Config); err == nil {
		t.Fatal("a second server started on the database after the first one's connection dropped")
	}
}

// If another takes the node lock while a server's connection is down,
// the server cannot take it again, and says it must stop.
func TestServerDisplacedWhileItsConnectionIsDown(t *testing.T) {
	a := xmpptest.Start(t)
	ctx := context.Background()
	other, err := a.DB.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	var otherPID int32
	if err := other.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&otherPID); err != nil {
		t.Fatal(err)
	}
	locked := make(chan error, 1)
	go func() {
		_, err := other.Exec(ctx, `SELECT pg_advisory_lock(hashtext('xmppd node'), hashtext(current_schema()))`)
		locked <- err
	}()
	// Once the other waits for the lock, it gets it before the server
	// connects again.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for waiting := false; !waiting; {
		if err := a.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND pid = $1)`, otherPID).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	if _, err := a.DB.Exec(ctx, `SELECT pg_terminate_backend($1)`, nodeLockHolder(t, a.DB)); err != nil {
		t.Fatal(err)
	}
	if err := <-locked; err != nil {
		t.Fatal(err)
	}
	defer other.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	select {
	case err := <-a.Displaced():
		t.Logf("displaced: %v", err)
	case <-time.After(time.Minute): // a bound, not a timing
		t.Fatal("the server went on without its node lock, held by another")
	}
}
