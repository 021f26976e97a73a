package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/config"
	"xmppd/router"
	"xmppd/storage"
	"xmppd/storage/postgres"
)

// `xmppd user delete` is a process of its own, without the account's
// sessions or its contacts' presence. When a server runs on the same
// database, the command asks it, over PostgreSQL's LISTEN/NOTIFY, to
// delete the account: the server tells the contacts live and ends the
// account's sessions, as an in-band removal does (XEP-0077). Both sides
// name the channel after the database schema, so that servers on other
// schemas of one database (tests) keep out of each other's way.
// `xmppd user passwd` uses the channel too, to have the server end the
// sessions that logged in with the old password.

// deleteChannelPrefix, followed by the schema, names the channel that
// carries the bare JID of an account to delete; listenerPrefix, followed by
// the schema, is the application_name of the listening connection, by
// which the command tells that a server runs.
const (
	deleteChannelPrefix = "xmppd_delete_account:"
	listenerPrefix      = "xmppd delete listener "
)

// passwordPrefix, followed by a bare JID, is the notification that the
// account's password was changed.
const passwordPrefix = "password "

// deleteWait bounds how long the command waits for a running server to
// delete the account.
const deleteWait = 30 * time.Second

// DeleteAccount removes the account bare, as `xmppd user delete` does.
// When a server runs on the database, it asks that server and waits until
// the account is gone. Otherwise it deletes the account itself: the
// modules first tell the account's contacts on this server (RFC 6121:
// unsubscribed and unavailable, with their rosters updated), then the
// account and everything of it is deleted.
func DeleteAccount(ctx context.Context, cfg config.Config, log *slog.Logger, db *Database, bare jid.JID) error {
	accounts := postgres.NewAccounts(db.Pool)
	if ok, err := accounts.Exists(ctx, bare.Domainpart(), bare.Localpart()); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("no account %s: %w", bare, storage.ErrNotFound)
		}
		return err
	}
	var running bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 || current_schema())`, listenerPrefix).Scan(&running); err != nil {
		return fmt.Errorf("looking for a running server: %w", err)
	}
	if running {
		return askServerToDelete(ctx, db.Pool, accounts, bare)
	}
	w := &wiring{cfg: cfg, log: log, pool: db.Pool, accounts: accounts,
		router: router.New(router.Config{Hosts: cfg.Hosts, Accounts: accounts, Logger: log})}
	if err := w.modules(ctx); err != nil {
		return err
	}
	defer w.close()
	return deleteAccount(ctx, w, bare)
}

// deleteAccount runs the modules' preparations for the removal of bare and
// deletes it.
func deleteAccount(ctx context.Context, w *wiring, bare jid.JID) error {
	if err := w.beforeDelete(ctx, bare); err != nil {
		return err
	}
	return w.accounts.Delete(ctx, bare.Domainpart(), bare.Localpart())
}

// beforeDelete runs the modules' preparations for the removal of bare.
func (w *wiring) beforeDelete(ctx context.Context, bare jid.JID) error {
	for _, before := range w.accountDeleted {
		if err := before(ctx, bare); err != nil {
			return fmt.Errorf("deleting %s: %w", bare, err)
		}
	}
	return nil
}

// askServerToDelete notifies the running server and waits until the
// account is gone.
func askServerToDelete(ctx context.Context, pool *pgxpool.Pool, accounts *postgres.Accounts, bare jid.JID) error {
	if _, err := pool.Exec(ctx, `SELECT pg_notify($1 || current_schema(), $2)`, deleteChannelPrefix, bare.String()); err != nil {
		return fmt.Errorf("asking the running server to delete %s: %w", bare, err)
	}
	ctx, cancel := context.WithTimeout(ctx, deleteWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := accounts.Exists(ctx, bare.Domainpart(), bare.Localpart())
		if err == nil && !ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the running server did not delete %s within %v (see its log): %w", bare, deleteWait, errors.Join(err, ctx.Err()))
		case <-tick.C:
		}
	}
}

// PasswordChanged tells a server running on the database, if any, that
// the password of the account bare was changed: it ends the account's
// sessions, as an in-band change ends the others (XEP-0077).
func PasswordChanged(ctx context.Context, db *Database, bare jid.JID) error {
	if _, err := db.Pool.Exec(ctx, `SELECT pg_notify($1 || current_schema(), $2)`, deleteChannelPrefix, passwordPrefix+bare.String()); err != nil {
		return fmt.Errorf("telling the running server that the password of %s changed: %w", bare, err)
	}
	return nil
}

// listenForDeletes serves the requests on conn, the node connection New
// opened, in a goroutine that connects again after a failure (taking the
// node lock again, nodelock.go) until ctx is done, and closes done. If
// another server took the node lock meanwhile, it says so on s.displaced
// and stops listening.
func (s *Server) listenForDeletes(ctx context.Context, conn *pgx.Conn, done chan<- struct{}) {
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if conn == nil {
				t := time.NewTimer(time.Second)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				var err error
				conn, s.nodeSession, err = openNodeConnection(ctx, s.db.Pool, s.cfg.Cluster.NATS != "", s.nodeSession)
				if errors.Is(err, errDisplaced) {
					s.displaced <- fmt.Errorf("the database connection dropped, and meanwhile another server took over: %w", err)
					return
				}
				if err != nil {
					continue
				}
			}
			err := s.serveDeletes(ctx, conn)
			conn.Close(context.WithoutCancel(ctx))
			conn = nil
			if ctx.Err() == nil {
				s.log.Error("listening for account deletions", "err", err)
			}
		}
	}()
}

// openNodeConnection opens the connection that listens on the schema's
// delete channel and holds the node lock, shared when clustered, after
// ending the session previous that held it if it still runs (nil:
// none). It returns the connection and its session.
func openNodeConnection(ctx context.Context, pool *pgxpool.Pool, clustered bool, previous *nodeSession) (*pgx.Conn, *nodeSession, error) {
	cfg := pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(nodeLockWait.Milliseconds(), 10)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("listening for account deletions: %w", err)
	}
	var channel string
	err = conn.QueryRow(ctx, `SELECT $1 || current_schema(), set_config('application_name', $2 || current_schema(), false)`,
		deleteChannelPrefix, listenerPrefix).Scan(&channel, nil)
	if err == nil {
		_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize())
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, nil, fmt.Errorf("listening for account deletions: %w", err)
	}
	session, err := takeNodeLock(ctx, conn, clustered, previous)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return conn, session, nil
}

// serveDeletes deletes the accounts named on conn's channel, and ends the
// sessions of those whose password changed, until an error or the end of
// ctx.
func (s *Server) serveDeletes(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		payload, password := strings.CutPrefix(n.Payload, passwordPrefix)
		bare, err := jid.Parse(payload)
		if err != nil || bare.Localpart() == "" || !s.router.IsLocal(bare.Domainpart()) {
			s.log.Warn("ignoring a request about an account", "request", n.Payload)
			continue
		}
		bare = bare.Bare()
		if password {
			s.log.Info("password changed; ending the account's sessions", "jid", bare.String())
			s.router.EndSessions(bare, "reset", "the account's password was changed")
			continue
		}
		if err := deleteAccount(ctx, s.modules, bare); err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.log.Error("deleting an account", "jid", bare.String(), "err", err)
			continue
		}
		s.log.Info("account deleted", "jid", bare.String())
		s.router.EndSessions(bare, "not-authorized", "the account was deleted")
	}
}
