package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ServerSecret returns the deployment's random secret, shared by every
// node; the first call on a new database creates it.
func ServerSecret(ctx context.Context, pool *pgxpool.Pool) ([]byte, error) {
	fresh := make([]byte, 32)
	rand.Read(fresh)
	var secret []byte
	query := func() error {
		return pool.QueryRow(ctx, `
		WITH created AS (
			INSERT INTO server_secret (secret) VALUES ($1)
			ON CONFLICT (id) DO NOTHING
			RETURNING secret
		)
		SELECT secret FROM created UNION ALL SELECT secret FROM server_secret
		LIMIT 1`, fresh).Scan(&secret)
	}
	err := query()
	if errors.Is(err, pgx.ErrNoRows) {
		// Another node created it in the same instant; our snapshot could
		// see neither its row nor ours. Now it is there.
		err = query()
	}
	if err != nil {
		return nil, fmt.Errorf("reading the server secret: %w", err)
	}
	return secret, nil
}
