package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/auth"
	"xmppd/config"
	"xmppd/pep"
	"xmppd/pie"
	"xmppd/storage/postgres"
)

// Importer returns the importer of XEP-0227 files (xmppd import) into the
// database of pool, with cfg's hosts and limits.
func Importer(cfg config.Config, pool *pgxpool.Pool) *pie.Importer {
	return &pie.Importer{
		Stores: pie.Stores{
			Accounts: postgres.NewAccounts(pool),
			Roster:   postgres.NewRoster(pool),
			VCards:   postgres.NewVCards(pool),
			Private:  postgres.NewPrivate(pool),
			Offline:  postgres.NewOffline(pool),
			PEP:      postgres.NewPEP(pool),
			Archive:  postgres.NewArchive(pool),
			Blocking: postgres.NewBlocking(pool),
		},
		Limits: pie.Limits{
			RosterItems:  cfg.Roster.MaxItems,
			VCardBytes:   cfg.VCard.MaxBytes,
			PrivateBytes: cfg.VCard.MaxBytes,
			OfflineQuota: cfg.Offline.Quota,
			PEPMaxItems:  cfg.PEP.MaxItems,
			PEP:          pep.Limits{Nodes: cfg.PEP.MaxNodes, Bytes: cfg.PEP.MaxBytes, Items: cfg.PEP.MaxItems},
			Iterations:   auth.DefaultIterations,
		},
		Hosts: cfg.Hosts,
	}
}

// Exporter returns the exporter of cfg's hosts' accounts to a XEP-0227
// file (xmppd export), from the database of pool.
func Exporter(cfg config.Config, pool *pgxpool.Pool) *pie.Exporter {
	return &pie.Exporter{
		Stores: pie.ExportStores{
			Accounts: postgres.NewAccounts(pool),
			Roster:   postgres.NewRoster(pool),
			VCards:   postgres.NewVCards(pool),
			Private:  postgres.NewPrivate(pool),
			Offline:  postgres.NewOffline(pool),
			PEP:      postgres.NewPEP(pool),
			Archive:  postgres.NewArchive(pool),
			Blocking: postgres.NewBlocking(pool),
		},
		Hosts: cfg.Hosts,
	}
}

// importLock is the key of the PostgreSQL advisory lock an import holds:
// two at once would place each other's archived messages.
const importLock = 0x786d7070_64696d70 // "xmppdimp"

// LockImport takes the import's lock on the database of pool for as long
// as the import runs, and returns its release; it fails at once when
// another import holds it.
func LockImport(ctx context.Context, pool *pgxpool.Pool) (unlock func(), err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("import lock: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(importLock)).Scan(&got); err != nil || !got {
		conn.Release()
		if err == nil {
			err = errors.New("another import is running on this database")
		}
		return nil, fmt.Errorf("import lock: %w", err)
	}
	return func() {
		conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(importLock))
		conn.Release()
	}, nil
}
