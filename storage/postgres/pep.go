package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"mellium.im/xmpp/jid"

	"xmppd/pep"
	"xmppd/storage"
)

// PEP stores the personal eventing nodes of accounts and their items
// (tables pep_nodes and pep_items).
type PEP struct {
	pool *pgxpool.Pool
}

// NewPEP returns the PEP store using pool.
func NewPEP(pool *pgxpool.Pool) *PEP { return &PEP{pool: pool} }

// PEP is the store of package pep.
var _ pep.Store = (*PEP)(nil)

const nodeColumns = `access_model, max_items, persist_items, send_last, notify_retract, title, roster_groups`

// scanConfig returns the destinations of nodeColumns.
func scanConfig(c *pep.NodeConfig) []any {
	return []any{&c.Access, &c.MaxItems, &c.Persist, &c.SendLast, &c.NotifyRetract, &c.Title, &c.RosterGroups}
}

// configArgs returns the values of nodeColumns: no groups are an empty
// array, not NULL.
func configArgs(c pep.NodeConfig) []any {
	groups := c.RosterGroups
	if groups == nil {
		groups = []string{}
	}
	return []any{c.Access, c.MaxItems, c.Persist, c.SendLast, c.NotifyRetract, c.Title, groups}
}

// lockNode returns the id and configuration of owner's node, locked for
// the rest of tx; an error wrapping storage.ErrNotFound when there is none.
func lockNode(ctx context.Context, tx pgx.Tx, owner jid.JID, node string) (int64, pep.NodeConfig, error) {
	var id int64
	var c pep.NodeConfig
	err := tx.QueryRow(ctx, `SELECT id, `+nodeColumns+`,
			(SELECT coalesce(array_agg(s.subscriber ORDER BY s.subscriber), '{}') FROM pep_subscriptions s WHERE s.node_id = pep_nodes.id)
		FROM pep_nodes WHERE domain = $1 AND username = $2 AND node = $3 FOR UPDATE`,
		owner.Domainpart(), owner.Localpart(), node).Scan(append(append([]any{&id}, scanConfig(&c)...), &c.Subscribers)...)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storage.ErrNotFound
	}
	return id, c, err
}

// createNode creates owner's node in tx, unless owner has maxNodes nodes
// (pep.ErrTooManyNodes) or it exists (pep.ErrExists).
func createNode(ctx context.Context, tx pgx.Tx, owner jid.JID, node string, c pep.NodeConfig, maxNodes int) (int64, error) {
	// Locking the account makes its creations take turns, so two cannot
	// both pass the limit; NO KEY UPDATE does not block other tables'
	// foreign key checks.
	var n int
	err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM pep_nodes p WHERE p.domain = a.domain AND p.username = a.username)
		FROM accounts a WHERE domain = $1 AND username = $2 FOR NO KEY UPDATE`,
		owner.Domainpart(), owner.Localpart()).Scan(&n)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, storage.ErrNotFound
	case err != nil:
		return 0, err
	case n >= maxNodes:
		return 0, fmt.Errorf("%w (%d)", pep.ErrTooManyNodes, maxNodes)
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO pep_nodes (domain, username, node, `+nodeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id`,
		append([]any{owner.Domainpart(), owner.Localpart(), node}, configArgs(c)...)...).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, pep.ErrExists
	}
	return id, err
}

// trim drops the oldest items of the node beyond max; a max of 0 or
// less drops them all.
func trim(ctx context.Context, tx pgx.Tx, nodeID int64, max int) error {
	if max <= 0 {
		_, err := tx.Exec(ctx, `DELETE FROM pep_items WHERE node_id = $1`, nodeID)
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM pep_items WHERE node_id = $1 AND seq < (
		SELECT seq FROM pep_items WHERE node_id = $1 ORDER BY seq DESC OFFSET $2 - 1 LIMIT 1)`, nodeID, max)
	return err
}

// Publish stores item in owner's node, creating the node with create if
// it does not exist, and keeps only the node's newest MaxItems items (at
// most limits.Items); a node that does not persist items stores none.
func (p *PEP) Publish(ctx context.Context, owner jid.JID, node string, create pep.NodeConfig, check func(pep.NodeConfig) error, item pep.Item, limits pep.Limits) (pep.NodeConfig, error) {
	var cfg pep.NodeConfig
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		id, c, err := lockNode(ctx, tx, owner, node)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			c = create
			id, err = createNode(ctx, tx, owner, node, c, limits.Nodes)
			if errors.Is(err, pep.ErrExists) { // created meanwhile
				if id, c, err = lockNode(ctx, tx, owner, node); err == nil {
					err = check(c)
				}
			}
		case err == nil:
			err = check(c)
		}
		if err != nil {
			return err
		}
		cfg = c
		if !c.Persist {
			return nil // a transient node keeps no items (XEP-0060 §4.3)
		}
		_, err = tx.Exec(ctx, `INSERT INTO pep_items (node_id, item_id, payload) VALUES ($1, $2, $3)
			ON CONFLICT (node_id, item_id) DO UPDATE SET payload = excluded.payload, seq = DEFAULT, published = now()`,
			id, item.ID, item.Payload)
		if err != nil {
			return err
		}
		keep := c.MaxItems
		if limits.Items > 0 {
			keep = min(keep, limits.Items)
		}
		if err := trim(ctx, tx, id, keep); err != nil {
			return err
		}
		var total int64
		err = tx.QueryRow(ctx, `SELECT coalesce(sum(octet_length(i.payload)), 0) FROM pep_items i JOIN pep_nodes n ON n.id = i.node_id
			WHERE n.domain = $1 AND n.username = $2`, owner.Domainpart(), owner.Localpart()).Scan(&total)
		if err == nil && total > limits.Bytes {
			err = fmt.Errorf("%w: %d bytes, limit %d", pep.ErrTooLarge, total, limits.Bytes)
		}
		return err
	})
	if err != nil {
		return cfg, fmt.Errorf("publish to node %q of %s: %w", node, owner, err)
	}
	return cfg, nil
}

// Create creates owner's node with cfg.
func (p *PEP) Create(ctx context.Context, owner jid.JID, node string, cfg pep.NodeConfig, limits pep.Limits) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		_, err := createNode(ctx, tx, owner, node, cfg, limits.Nodes)
		return err
	})
	if err != nil {
		return fmt.Errorf("create node %q of %s: %w", node, owner, err)
	}
	return nil
}

// Node returns the configuration of owner's node.
func (p *PEP) Node(ctx context.Context, owner jid.JID, node string) (pep.NodeConfig, error) {
	var c pep.NodeConfig
	err := p.pool.QueryRow(ctx, `SELECT `+nodeColumns+` FROM pep_nodes WHERE domain = $1 AND username = $2 AND node = $3`,
		owner.Domainpart(), owner.Localpart(), node).Scan(scanConfig(&c)...)
	if errors.Is(err, pgx.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("load node %q of %s: %w", node, owner, err)
	}
	return c, nil
}

// Nodes returns owner's nodes, sorted by name.
func (p *PEP) Nodes(ctx context.Context, owner jid.JID) ([]pep.Node, error) {
	rows, _ := p.pool.Query(ctx, `SELECT node, `+nodeColumns+` FROM pep_nodes WHERE domain = $1 AND username = $2 ORDER BY node`,
		owner.Domainpart(), owner.Localpart())
	nodes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pep.Node, error) {
		var n pep.Node
		return n, row.Scan(append([]any{&n.Name}, scanConfig(&n.Config)...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes of %s: %w", owner, err)
	}
	return nodes, nil
}

// Configure replaces the configuration of owner's node and drops the
// oldest items beyond its new MaxItems, or all of them when it no longer
// persists items.
func (p *PEP) Configure(ctx context.Context, owner jid.JID, node string, c pep.NodeConfig) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		id, _, err := lockNode(ctx, tx, owner, node)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE pep_nodes SET (`+nodeColumns+`) = ($2, $3, $4, $5, $6, $7, $8) WHERE id = $1`,
			append([]any{id}, configArgs(c)...)...)
		if err != nil {
			return err
		}
		keep := c.MaxItems
		if !c.Persist {
			keep = 0
		}
		return trim(ctx, tx, id, keep)
	})
	if err != nil {
		return fmt.Errorf("configure node %q of %s: %w", node, owner, err)
	}
	return nil
}

// Items returns the node's configuration and the items with the given ids,
// or the newest max, oldest first.
func (p *PEP) Items(ctx context.Context, owner jid.JID, node string, ids []string, max int) (pep.NodeConfig, []pep.Item, error) {
	c, err := p.Node(ctx, owner, node)
	if err != nil {
		return c, nil, err
	}
	var rows pgx.Rows
	if len(ids) > 0 {
		rows, _ = p.pool.Query(ctx, `SELECT i.item_id, i.payload FROM pep_items i JOIN pep_nodes n ON n.id = i.node_id
			WHERE n.domain = $1 AND n.username = $2 AND n.node = $3 AND i.item_id = ANY($4) ORDER BY i.seq`,
			owner.Domainpart(), owner.Localpart(), node, ids)
	} else {
		rows, _ = p.pool.Query(ctx, `SELECT item_id, payload FROM (
			SELECT i.item_id, i.payload, i.seq FROM pep_items i JOIN pep_nodes n ON n.id = i.node_id
			WHERE n.domain = $1 AND n.username = $2 AND n.node = $3 ORDER BY i.seq DESC LIMIT $4) newest ORDER BY seq`,
			owner.Domainpart(), owner.Localpart(), node, max)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pep.Item, error) {
		var it pep.Item
		return it, row.Scan(&it.ID, &it.Payload)
	})
	if err != nil {
		return c, nil, fmt.Errorf("load items of node %q of %s: %w", node, owner, err)
	}
	return c, items, nil
}

// Retract removes the item id from owner's node.
func (p *PEP) Retract(ctx context.Context, owner jid.JID, node, id string) (pep.NodeConfig, error) {
	return p.change(ctx, owner, node, "retract item "+id+" from", `DELETE FROM pep_items WHERE node_id = $1 AND item_id = $2`, id)
}

// Purge removes every item of owner's node.
func (p *PEP) Purge(ctx context.Context, owner jid.JID, node string) (pep.NodeConfig, error) {
	return p.change(ctx, owner, node, "purge", `DELETE FROM pep_items WHERE node_id = $1`)
}

// Delete removes owner's node with its items.
func (p *PEP) Delete(ctx context.Context, owner jid.JID, node string) (pep.NodeConfig, error) {
	return p.change(ctx, owner, node, "delete", `DELETE FROM pep_nodes WHERE id = $1`)
}

// change runs the statement sql, whose $1 is the node's id, on owner's
// node and returns the node's configuration. A retraction (an extra
// argument) that removes nothing is an error wrapping storage.ErrNotFound.
func (p *PEP) change(ctx context.Context, owner jid.JID, node, what, sql string, args ...any) (pep.NodeConfig, error) {
	var c pep.NodeConfig
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		id, cfg, err := lockNode(ctx, tx, owner, node)
		if err != nil {
			return err
		}
		c = cfg
		tag, err := tx.Exec(ctx, sql, append([]any{id}, args...)...)
		if err == nil && len(args) > 0 && tag.RowsAffected() == 0 {
			err = storage.ErrNotFound
		}
		return err
	})
	if err != nil {
		return c, fmt.Errorf("%s node %q of %s: %w", what, node, owner, err)
	}
	return c, nil
}

// LastItems returns the newest item of each node of the owners, among
// nodes (all when empty).
func (p *PEP) LastItems(ctx context.Context, owners []jid.JID, nodes []string) ([]pep.LastItem, error) {
	domains, users := make([]string, len(owners)), make([]string, len(owners))
	for i, o := range owners {
		domains[i], users[i] = o.Domainpart(), o.Localpart()
	}
	rows, _ := p.pool.Query(ctx, `SELECT DISTINCT ON (n.id) n.domain, n.username, n.node, n.access_model, n.max_items, n.persist_items, n.send_last, n.notify_retract, n.title, n.roster_groups, i.item_id, i.payload, i.published
		FROM pep_nodes n JOIN pep_items i ON i.node_id = n.id
		WHERE (n.domain, n.username) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		  AND (cardinality($3::text[]) = 0 OR n.node = ANY($3))
		ORDER BY n.id, i.seq DESC`, domains, users, nodes)
	last, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pep.LastItem, error) {
		var li pep.LastItem
		var domain, user string
		dest := append([]any{&domain, &user, &li.Node}, scanConfig(&li.Config)...)
		if err := row.Scan(append(dest, &li.Item.ID, &li.Item.Payload, &li.Published)...); err != nil {
			return li, err
		}
		o, err := jid.New(user, domain, "")
		li.Owner = o
		return li, err
	})
	if err != nil {
		return nil, fmt.Errorf("load the last items of %d accounts: %w", len(owners), err)
	}
	return last, nil
}

// Subscribe records subscriber's subscription to owner's node, unless
// the node has max subscriptions (pep.ErrTooManySubscriptions); one that
// exists is kept.
func (p *PEP) Subscribe(ctx context.Context, owner jid.JID, node string, subscriber jid.JID, max int) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		id, c, err := lockNode(ctx, tx, owner, node)
		if err != nil {
			return err
		}
		if len(c.Subscribers) >= max {
			return fmt.Errorf("%w (%d)", pep.ErrTooManySubscriptions, max)
		}
		_, err = tx.Exec(ctx, `INSERT INTO pep_subscriptions (node_id, subscriber) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, subscriber.String())
		return err
	})
	if err != nil {
		return fmt.Errorf("subscribe %s to node %q of %s: %w", subscriber, node, owner, err)
	}
	return nil
}

// Unsubscribe removes subscriber's subscription to owner's node.
func (p *PEP) Unsubscribe(ctx context.Context, owner jid.JID, node string, subscriber jid.JID) (bool, error) {
	var removed bool
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		id, _, err := lockNode(ctx, tx, owner, node)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM pep_subscriptions WHERE node_id = $1 AND subscriber = $2`, id, subscriber.String())
		removed = tag.RowsAffected() > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("unsubscribe %s from node %q of %s: %w", subscriber, node, owner, err)
	}
	return removed, nil
}

// Subscriptions returns the subscriptions to owner's nodes, by node and
// subscriber.
func (p *PEP) Subscriptions(ctx context.Context, owner jid.JID) ([]pep.Subscription, error) {
	rows, _ := p.pool.Query(ctx, `SELECT n.node, s.subscriber FROM pep_subscriptions s JOIN pep_nodes n ON n.id = s.node_id
		WHERE n.domain = $1 AND n.username = $2 ORDER BY n.node, s.subscriber`, owner.Domainpart(), owner.Localpart())
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pep.Subscription, error) {
		var s pep.Subscription
		var subscriber string
		if err := row.Scan(&s.Node, &subscriber); err != nil {
			return s, err
		}
		j, err := jid.Parse(subscriber)
		s.JID = j
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list the subscriptions to the nodes of %s: %w", owner, err)
	}
	return subs, nil
}
