package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/auth"
	"xmppd/storage"
)

// Accounts stores accounts and their SCRAM credentials (tables accounts and
// account_credentials): for each account at most one credential per hash,
// holding the salt, iteration count, StoredKey and ServerKey of RFC 5802.
// Domain and username are stored as given; callers normalise them first.
type Accounts struct {
	pool *pgxpool.Pool
}

// NewAccounts returns the account store using pool.
func NewAccounts(pool *pgxpool.Pool) *Accounts {
	return &Accounts{pool: pool}
}

// Accounts is the credential store of package auth.
var _ auth.Store = (*Accounts)(nil)

// noSuchAccount is the error for an account that does not exist; it is both
// storage.ErrNotFound and auth.ErrNoSuchUser.
type noSuchAccount struct{}

func (noSuchAccount) Error() string { return "no such account" }

func (noSuchAccount) Is(target error) bool {
	return target == storage.ErrNotFound || target == auth.ErrNoSuchUser
}

// credentialColumns turns creds into one array per column, for unnest.
func credentialColumns(creds []auth.Credential) (hashes []string, salts [][]byte, iterations []int32, storedKeys, serverKeys [][]byte, err error) {
	for i, c := range creds {
		switch {
		case c.Hash == "":
			err = fmt.Errorf("credential %d has no hash name", i)
		case slices.ContainsFunc(creds[:i], func(o auth.Credential) bool { return o.Hash == c.Hash }):
			err = fmt.Errorf("two credentials for hash %s", c.Hash)
		case len(c.Salt) == 0 || len(c.StoredKey) == 0 || len(c.ServerKey) == 0:
			err = fmt.Errorf("credential for hash %s lacks a salt or key", c.Hash)
		case c.Iterations < 1 || c.Iterations > 1<<31-1:
			err = fmt.Errorf("credential for hash %s has iteration count %d", c.Hash, c.Iterations)
		}
		if err != nil {
			return nil, nil, nil, nil, nil, err
		}
		hashes = append(hashes, c.Hash)
		salts = append(salts, c.Salt)
		iterations = append(iterations, int32(c.Iterations))
		storedKeys = append(storedKeys, c.StoredKey)
		serverKeys = append(serverKeys, c.ServerKey)
	}
	return hashes, salts, iterations, storedKeys, serverKeys, nil
}

// insertCredentials inserts creds for the account ($1, $2) if the account
// exists; the arrays of credentialColumns are $3 to $7.
const insertCredentials = `INSERT INTO account_credentials (domain, username, hash, salt, iterations, stored_key, server_key)
	SELECT $1, $2, c.* FROM unnest($3::text[], $4::bytea[], $5::integer[], $6::bytea[], $7::bytea[]) AS c`

// Create creates the account username@domain with creds, at most one per
// hash. An account that already exists is an error wrapping
// storage.ErrExists.
func (a *Accounts) Create(ctx context.Context, domain, username string, creds []auth.Credential) error {
	hashes, salts, iterations, storedKeys, serverKeys, err := credentialColumns(creds)
	if err != nil {
		return fmt.Errorf("create account %s@%s: %w", username, domain, err)
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (domain, username) VALUES ($1, $2)`, domain, username); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
				return storage.ErrExists
			}
			return err
		}
		if len(creds) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, insertCredentials, domain, username, hashes, salts, iterations, storedKeys, serverKeys)
		return err
	})
	if err != nil {
		return fmt.Errorf("create account %s@%s: %w", username, domain, err)
	}
	return nil
}

// SetCredentials replaces all credentials of the account username@domain by
// creds, and drops its FAST tokens. An unknown account is an error wrapping storage.ErrNotFound and
// auth.ErrNoSuchUser.
func (a *Accounts) SetCredentials(ctx context.Context, domain, username string, creds []auth.Credential) error {
	hashes, salts, iterations, storedKeys, serverKeys, err := credentialColumns(creds)
	if err != nil {
		return fmt.Errorf("set credentials of %s@%s: %w", username, domain, err)
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		// Locking the account row orders concurrent changes of its
		// credentials and keeps Delete from racing them.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE domain = $1 AND username = $2 FOR UPDATE`, domain, username).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return noSuchAccount{}
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM account_credentials WHERE domain = $1 AND username = $2`, domain, username); err != nil {
			return err
		}
		// A new password ends the logins made without it (XEP-0484 §5).
		if _, err := tx.Exec(ctx, `DELETE FROM fast_tokens WHERE domain = $1 AND username = $2`, domain, username); err != nil {
			return err
		}
		if len(creds) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, insertCredentials, domain, username, hashes, salts, iterations, storedKeys, serverKeys)
		return err
	})
	if err != nil {
		return fmt.Errorf("set credentials of %s@%s: %w", username, domain, err)
	}
	return nil
}

// Delete deletes the account username@domain and its credentials. An
// unknown account is an error wrapping storage.ErrNotFound and
// auth.ErrNoSuchUser.
func (a *Accounts) Delete(ctx context.Context, domain, username string) error {
	tag, err := a.pool.Exec(ctx, `DELETE FROM accounts WHERE domain = $1 AND username = $2`, domain, username)
	if err == nil && tag.RowsAffected() == 0 {
		err = noSuchAccount{}
	}
	if err != nil {
		return fmt.Errorf("delete account %s@%s: %w", username, domain, err)
	}
	return nil
}

// List returns the accounts of domain, or of every domain when domain is
// empty, as "username@domain" strings sorted in byte order.
func (a *Accounts) List(ctx context.Context, domain string) ([]string, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if domain == "" {
		rows, err = a.pool.Query(ctx, `SELECT username || '@' || domain FROM accounts`)
	} else {
		rows, err = a.pool.Query(ctx, `SELECT username || '@' || domain FROM accounts WHERE domain = $1`, domain)
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	slices.Sort(list)
	return list, nil
}

// Count returns how many accounts domain has.
func (a *Accounts) Count(ctx context.Context, domain string) (int, error) {
	var n int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE domain = $1`, domain).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts of %s: %w", domain, err)
	}
	return n, nil
}

// Exists reports whether the account username@domain exists.
func (a *Accounts) Exists(ctx context.Context, domain, username string) (bool, error) {
	var ok bool
	err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE domain = $1 AND username = $2)`, domain, username).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up account %s@%s: %w", username, domain, err)
	}
	return ok, nil
}

// Credentials returns the credentials of the account username@domain, sorted
// by hash name; an account without any has an empty, non-nil slice. An
// unknown account is an error wrapping both storage.ErrNotFound and
// auth.ErrNoSuchUser.
func (a *Accounts) Credentials(ctx context.Context, domain, username string) ([]auth.Credential, error) {
	// One query: the account row joined to its credentials, so that an
	// account without credentials still yields one row (of NULLs).
	rows, err := a.pool.Query(ctx, `SELECT c.hash, c.salt, c.iterations, c.stored_key, c.server_key
		FROM accounts AS a LEFT JOIN account_credentials AS c USING (domain, username)
		WHERE a.domain = $1 AND a.username = $2
		ORDER BY c.hash`, domain, username)
	if err != nil {
		return nil, fmt.Errorf("credentials of %s@%s: %w", username, domain, err)
	}
	found := false
	creds := []auth.Credential{}
	for rows.Next() {
		found = true
		var (
			hash       *string
			iterations *int32
			c          auth.Credential
		)
		if err := rows.Scan(&hash, &c.Salt, &iterations, &c.StoredKey, &c.ServerKey); err != nil {
			rows.Close()
			return nil, fmt.Errorf("credentials of %s@%s: %w", username, domain, err)
		}
		if hash == nil {
			continue
		}
		c.Hash, c.Iterations = *hash, int(*iterations)
		creds = append(creds, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("credentials of %s@%s: %w", username, domain, err)
	}
	if !found {
		return nil, fmt.Errorf("credentials of %s@%s: %w", username, domain, noSuchAccount{})
	}
	return creds, nil
}
