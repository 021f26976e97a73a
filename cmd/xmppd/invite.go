package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/config"
	"xmppd/register"
	"xmppd/server"
	"xmppd/storage/postgres"
)

// webBase returns the address of host's web pages as invited people reach
// them: http.public_url, else the HTTPS listener's port on host, else the
// HTTP listener's; "" without either.
func webBase(cfg config.Config, host string) string {
	if cfg.HTTP.PublicURL != "" {
		return cfg.HTTP.PublicURL
	}
	for _, l := range []struct{ scheme, addr, standard string }{{"https", cfg.HTTP.ListenTLS, "443"}, {"http", cfg.HTTP.Listen, "80"}} {
		if _, port, err := net.SplitHostPort(l.addr); err == nil {
			if port == l.standard {
				return l.scheme + "://" + host
			}
			return l.scheme + "://" + net.JoinHostPort(host, port)
		}
	}
	return ""
}

// inviteCommand manages registration invitations (XEP-0401 tokens):
//
//	invite create [-valid DURATION] [-user NAME] HOST
//	                                       print a new token and its xmpp: URI;
//	                                       -user reserves the account's username
//	invite list [HOST]                     list invitations
func inviteCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("invite: expected create or list")
	}
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("invite create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		valid := fs.Duration("valid", register.InviteValidity, "how long the invitation can be used")
		user := fs.String("user", "", "the username the invitation reserves and registers")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("invite create: %w", err)
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("invite create: expected one host, like %s", cfg.Hosts[0])
		}
		host, err := servedHost(cfg, fs.Arg(0))
		if err != nil {
			return err
		}
		if *valid <= 0 {
			return fmt.Errorf("invite create: -valid %v is not positive", *valid)
		}
		address := host
		if *user != "" {
			j, err := jid.New(*user, host, "")
			if err != nil {
				return fmt.Errorf("invite create: -user %q is not a valid username", *user)
			}
			*user = j.Localpart()
			address = url.PathEscape(*user) + "@" + host
		}
		return withInvites(ctx, cfg, log, func(invites *postgres.Invites) error {
			inv, err := invites.Add(ctx, postgres.Invite{Domain: host, Username: *user, Expires: time.Now().Add(*valid)})
			if err != nil {
				return fmt.Errorf("invite create: %w", err)
			}
			fmt.Fprintf(stdout, "token:   %s\nexpires: %s\nuri:     xmpp:%s?register;preauth=%s\n",
				inv.Token, inv.Expires.UTC().Format(time.RFC3339), address, inv.Token)
			if base := webBase(cfg, host); base != "" && cfg.Registration.Enabled {
				fmt.Fprintf(stdout, "link:    %s\n", register.InviteLink(base, inv.Token))
			}
			switch {
			case !cfg.Registration.Enabled:
				fmt.Fprintln(stdout, "note: registration.enabled is off, so nobody can register, with this token or without; set registration.enabled and registration.require_invite")
			case !cfg.Registration.RequireInvite:
				fmt.Fprintln(stdout, "note: registration.require_invite is off, so anyone may register without a token")
			}
			return nil
		})
	case "list":
		if len(args) > 2 {
			return errors.New("invite list: expected at most one host")
		}
		host := ""
		if len(args) == 2 {
			var err error
			if host, err = servedHost(cfg, args[1]); err != nil {
				return err
			}
		}
		return withInvites(ctx, cfg, log, func(invites *postgres.Invites) error {
			list, err := invites.List(ctx, host)
			if err != nil {
				return err
			}
			now := time.Now()
			for _, inv := range list {
				state := "unused"
				switch {
				case strings.Contains(inv.UsedBy, "@"): // a contact's subscription
					state = "used by " + inv.UsedBy
				case inv.UsedBy != "":
					state = "used by " + inv.UsedBy + "@" + inv.Domain
				case !inv.Expires.After(now):
					state = "expired"
				}
				if inv.Inviter != "" {
					state += ", from " + inv.Inviter + "@" + inv.Domain
				}
				if inv.Username != "" && inv.UsedBy == "" {
					state += ", for " + inv.Username + "@" + inv.Domain
				}
				fmt.Fprintf(stdout, "%s %s expires %s %s\n", inv.Token, inv.Domain, inv.Expires.UTC().Format(time.RFC3339), state)
			}
			return nil
		})
	}
	return fmt.Errorf("invite: unknown command %q", args[0])
}

func withInvites(ctx context.Context, cfg config.Config, log *slog.Logger, f func(*postgres.Invites) error) error {
	db, err := server.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	return f(postgres.NewInvites(db.Pool))
}
