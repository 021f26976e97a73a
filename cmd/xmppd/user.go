package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"
	"mellium.im/xmpp/jid"

	"xmppd/auth"
	"xmppd/config"
	"xmppd/server"
	"xmppd/storage"
	"xmppd/storage/postgres"
)

// userCommand manages accounts: add, passwd, delete, list.
func userCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: expected add, passwd, delete or list")
	}
	db, err := server.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	accounts := postgres.NewAccounts(db.Pool)

	if args[0] == "list" {
		if len(args) > 2 {
			return fmt.Errorf("user list: expected at most one host, like %s", cfg.Hosts[0])
		}
		domain := ""
		if len(args) == 2 {
			if domain, err = servedHost(cfg, args[1]); err != nil {
				return err
			}
		}
		users, err := accounts.List(ctx, domain)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintln(stdout, u)
		}
		return nil
	}
	if len(args) != 2 {
		return fmt.Errorf("user %s: expected one JID, like alice@%s", args[0], cfg.Hosts[0])
	}
	j, err := accountJID(cfg, args[1])
	if err != nil {
		return err
	}
	domain, user := j.Domainpart(), j.Localpart()
	switch args[0] {
	case "add", "passwd":
		password, err := readPassword(stdin, stdout)
		if err != nil {
			return err
		}
		creds, err := auth.DeriveCredentials(password, auth.DefaultIterations)
		if err != nil {
			return err
		}
		if args[0] == "add" {
			err = accounts.Create(ctx, domain, user, creds)
			if errors.Is(err, storage.ErrExists) {
				return fmt.Errorf("user add: %s already exists", j)
			}
		} else {
			err = accounts.SetCredentials(ctx, domain, user, creds)
		}
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("user passwd: no account %s", j)
		}
		if err != nil {
			return err
		}
		if args[0] == "passwd" {
			if err := server.PasswordChanged(ctx, db, j.Bare()); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "%s: %s\n", j, map[string]string{"add": "created", "passwd": "password changed"}[args[0]])
		return nil
	case "delete":
		if err := server.DeleteAccount(ctx, cfg, log, db, j.Bare()); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("user delete: no account %s", j)
			}
			return err
		}
		fmt.Fprintf(stdout, "%s: deleted\n", j)
		return nil
	}
	return fmt.Errorf("user: unknown command %q", args[0])
}

// accountJID parses s as an account of a served host.
func accountJID(cfg config.Config, s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return jid.JID{}, fmt.Errorf("%q is not an account address like alice@%s", s, cfg.Hosts[0])
	}
	for _, h := range cfg.Hosts {
		if h == j.Domainpart() {
			return j, nil
		}
	}
	return jid.JID{}, fmt.Errorf("%s is not served here (hosts: %v)", j.Domainpart(), cfg.Hosts)
}

// servedHost returns s as the configured hosts name it (lower case,
// without a final dot), or an error when it is none of them.
func servedHost(cfg config.Config, s string) (string, error) {
	if j, err := jid.New("", s, ""); err == nil && slices.Contains(cfg.Hosts, j.Domainpart()) {
		return j.Domainpart(), nil
	}
	return "", fmt.Errorf("%s is not served here (hosts: %v)", s, cfg.Hosts)
}

// readPassword prompts twice on a terminal, or reads one line from stdin.
func readPassword(stdin io.Reader, stdout io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stdout, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stdout, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords differ")
		}
		return checkPassword(string(p1))
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	return checkPassword(strings.TrimRight(line, "\r\n"))
}

func checkPassword(p string) (string, error) {
	if p == "" {
		return "", errors.New("the password is empty")
	}
	return p, nil
}
