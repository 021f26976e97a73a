package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/push"
)

// Push stores push notification registrations (table push_registrations).
type Push struct {
	pool *pgxpool.Pool
}

// NewPush returns the registration store using pool.
func NewPush(pool *pgxpool.Pool) *Push { return &Push{pool: pool} }

// Push is the store of package push.
var _ push.Store = (*Push)(nil)

// Enable adds or replaces the registration at r.Service and r.Node, unless
// the account has push.MaxRegistrations others (push.ErrTooMany).
func (p *Push) Enable(ctx context.Context, account jid.JID, r push.Registration) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		// The account row's lock makes one account's enables take turns,
		// so two cannot both pass the count.
		var n int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM push_registrations p
				WHERE p.domain = a.domain AND p.username = a.username AND (p.service, p.node) <> ($3, $4))
			FROM accounts a WHERE a.domain = $1 AND a.username = $2 FOR NO KEY UPDATE`,
			account.Domainpart(), account.Localpart(), r.Service, r.Node).Scan(&n); err != nil {
			return err
		}
		if n >= push.MaxRegistrations {
			return push.ErrTooMany
		}
		_, err := tx.Exec(ctx, `INSERT INTO push_registrations (domain, username, service, node, options)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (domain, username, service, node) DO UPDATE SET options = $5, created = now()`,
			account.Domainpart(), account.Localpart(), r.Service, r.Node, r.Options)
		return err
	})
	if err != nil {
		return fmt.Errorf("enable push to %s for %s: %w", r.Service, account, err)
	}
	return nil
}

// Disable removes the registration at service and node, or every one at
// service when node is "".
func (p *Push) Disable(ctx context.Context, account jid.JID, service, node string) error {
	_, err := p.pool.Exec(ctx, `DELETE FROM push_registrations
		WHERE domain = $1 AND username = $2 AND service = $3 AND ($4 = '' OR node = $4)`,
		account.Domainpart(), account.Localpart(), service, node)
	if err != nil {
		return fmt.Errorf("disable push to %s for %s: %w", service, account, err)
	}
	return nil
}

// List returns the account's registrations, oldest first.
func (p *Push) List(ctx context.Context, account jid.JID) ([]push.Registration, error) {
	rows, _ := p.pool.Query(ctx, `SELECT service, node, options FROM push_registrations
		WHERE domain = $1 AND username = $2 ORDER BY created, service, node`, account.Domainpart(), account.Localpart())
	regs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (push.Registration, error) {
		var r push.Registration
		err := row.Scan(&r.Service, &r.Node, &r.Options)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list push registrations of %s: %w", account, err)
	}
	return regs, nil
}

// Accounts returns the accounts that have registrations.
func (p *Push) Accounts(ctx context.Context) ([]jid.JID, error) {
	accounts, err := collect(ctx, p.pool, `SELECT DISTINCT domain, username FROM push_registrations`, nil, rowToAccount)
	if err != nil {
		return nil, fmt.Errorf("list the accounts with push registrations: %w", err)
	}
	return accounts, nil
}
