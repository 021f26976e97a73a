package server

import (
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
			PEP:          pep.Limits{Nodes: cfg.PEP.MaxNodes, Bytes: cfg.PEP.MaxBytes},
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
