package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"xmppd/auth"
	"xmppd/register"
	"xmppd/storage"
)

// Invites stores registration invitations (table invites): random,
// single-use tokens for one domain, each with an expiry time.
type Invites struct {
	pool *pgxpool.Pool
}

// NewInvites returns the invitation store using pool.
func NewInvites(pool *pgxpool.Pool) *Invites {
	return &Invites{pool: pool}
}

// Invites is the invitation store of package register.
var _ register.Invites = (*Invites)(nil)

// Invite is one invitation.
type Invite struct {
	Token   string
	Domain  string
	Created time.Time
	Expires time.Time
	// UsedBy is the username of the account the token created, or the
	// bare JID of the contact that used it to subscribe (Subscribe);
	// empty while it is unused.
	UsedBy string
	// Inviter is the username of the account that made the invitation,
	// empty for one of the operator's. The account the invitation creates
	// and the inviter are subscribed to each other.
	Inviter string
	// Username is the only username the invitation can register, which
	// nobody else may register while it is unused and valid (XEP-0401
	// §6.2); empty lets the invited person choose.
	Username string
}

// tokenEncoding spells tokens with letters and digits only, so that they
// survive URIs, chat clients and reading aloud.
var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Create makes a new invitation for domain that can be used until
// expires. The token holds 160 random bits.
func (s *Invites) Create(ctx context.Context, domain string, expires time.Time) (Invite, error) {
	return s.Add(ctx, Invite{Domain: domain, Expires: expires})
}

// Add makes a new invitation with inv's Domain, Expires, Inviter and
// Username (both may be empty), and returns it with its token and
// creation time. A username that is an account already, or that another
// valid invitation reserves, is storage.ErrExists.
func (s *Invites) Add(ctx context.Context, inv Invite) (Invite, error) {
	var b [20]byte
	rand.Read(b[:])
	inv.Token, inv.UsedBy = tokenEncoding.EncodeToString(b[:]), ""
	err := s.pool.QueryRow(ctx, `INSERT INTO invites (token, domain, expires_at, inviter, username)
		SELECT $1, $2, $3, nullif($4, ''), nullif($5, '')
		WHERE $5 = '' OR NOT EXISTS (SELECT 1 FROM accounts WHERE domain = $2 AND username = $5)
		AND NOT EXISTS (SELECT 1 FROM invites WHERE domain = $2 AND username = $5 AND used_by IS NULL AND expires_at > now())
		RETURNING created_at`,
		inv.Token, inv.Domain, inv.Expires, inv.Inviter, inv.Username).Scan(&inv.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("the username %s is taken or reserved: %w", inv.Username, storage.ErrExists)
	}
	if err != nil {
		return Invite{}, fmt.Errorf("create invite for %s: %w", inv.Domain, err)
	}
	return inv, nil
}

// List returns the invitations of domain, or of every domain when domain
// is empty, oldest first.
func (s *Invites) List(ctx context.Context, domain string) ([]Invite, error) {
	rows, err := s.pool.Query(ctx, `SELECT token, domain, created_at, expires_at, coalesce(used_by, ''), coalesce(inviter, ''), coalesce(username, '')
		FROM invites WHERE $1 = '' OR domain = $1 ORDER BY created_at, token`, domain)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invite, error) {
		var inv Invite
		err := r.Scan(&inv.Token, &inv.Domain, &inv.Created, &inv.Expires, &inv.UsedBy, &inv.Inviter, &inv.Username)
		return inv, err
	})
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	return list, nil
}

// Valid reports whether token is an unused invitation for domain that has
// not expired at time at.
func (s *Invites) Valid(ctx context.Context, domain, token string, at time.Time) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM invites
		WHERE token = $1 AND domain = $2 AND used_by IS NULL AND expires_at > $3)`, token, domain, at).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check invite: %w", err)
	}
	return ok, nil
}

// Names returns the username of the account of domain that made the
// invitation token, and the username it reserves; each "" for none, and
// both for an unknown token.
func (s *Invites) Names(ctx context.Context, domain, token string) (inviter, username string, err error) {
	err = s.pool.QueryRow(ctx, `SELECT coalesce(inviter, ''), coalesce(username, '') FROM invites WHERE token = $1 AND domain = $2`,
		token, domain).Scan(&inviter, &username)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", "", fmt.Errorf("read the names of an invite: %w", err)
	}
	return inviter, username, nil
}

// Reserved reports whether an unused invitation of domain, valid at time
// at, reserves username for someone other than the holder of token ("" for
// no token).
func (s *Invites) Reserved(ctx context.Context, domain, username, token string, at time.Time) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM invites
		WHERE domain = $1 AND username = $2 AND token <> $3 AND used_by IS NULL AND expires_at > $4)`,
		domain, username, token, at).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check reserved usernames: %w", err)
	}
	return ok, nil
}

// Subscribe uses the invitation token, which must be one that inviter,
// an account of domain, made, unused and not expired at time at, for
// contact (a bare JID) to subscribe to inviter's presence (XEP-0379), and
// reports whether it could. The token's used_by is then contact.
func (s *Invites) Subscribe(ctx context.Context, domain, inviter, token, contact string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE invites SET used_by = $4, used_at = now()
		WHERE token = $1 AND domain = $2 AND inviter = $3 AND used_by IS NULL AND expires_at > $5`, token, domain, inviter, contact, at)
	if err != nil {
		return false, fmt.Errorf("use invite of %s@%s for %s: %w", inviter, domain, contact, err)
	}
	return tag.RowsAffected() == 1, nil
}

// CreateAccount uses the invitation token, which must be unused, for
// domain and not expired at time validAt, and creates the account
// username@domain with creds, in one transaction: either both happen or
// neither. It returns the username of the invitation's inviter, "" for
// none. A token that is not usable is an error wrapping
// storage.ErrNotFound; one that reserves another username,
// register.ErrOtherUsername; an account that exists, storage.ErrExists.
func (s *Invites) CreateAccount(ctx context.Context, domain, token string, validAt time.Time, username string, creds []auth.Credential) (inviter string, err error) {
	hashes, salts, iterations, storedKeys, serverKeys, err := credentialColumns(creds)
	if err != nil {
		return "", fmt.Errorf("create account %s@%s with an invite: %w", username, domain, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The row lock taken by the UPDATE makes a concurrent use of the
		// same token wait, then find used_by set and fail.
		var reserved string
		err := tx.QueryRow(ctx, `UPDATE invites SET used_by = $3, used_at = now()
			WHERE token = $1 AND domain = $2 AND used_by IS NULL AND expires_at > $4
			RETURNING coalesce(inviter, ''), coalesce(username, '')`, token, domain, username, validAt).Scan(&inviter, &reserved)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("invite is unknown, used or expired: %w", storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if reserved != "" && reserved != username {
			return fmt.Errorf("invite is for %s: %w", reserved, register.ErrOtherUsername)
		}
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
		_, err = tx.Exec(ctx, insertCredentials, domain, username, hashes, salts, iterations, storedKeys, serverKeys)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create account %s@%s with an invite: %w", username, domain, err)
	}
	return inviter, nil
}
