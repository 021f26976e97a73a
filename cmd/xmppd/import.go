package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"xmppd/auth"
	"xmppd/config"
	"xmppd/server"
)

// importCommand imports XEP-0227 files (package pie) into the database.
func importCommand(ctx context.Context, cfg config.Config, log *slog.Logger, files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return errors.New("import: expected XEP-0227 files (ejabberd's export_piefxis, Prosody's xep0227 storage)")
	}
	db, err := server.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	im := server.Importer(cfg, db.Pool)
	for _, f := range files {
		res, err := im.Import(ctx, f)
		for _, n := range res.Notes {
			fmt.Fprintf(stdout, "%s: %s\n", f, n)
		}
		fmt.Fprintf(stdout, "%s: %d accounts, %d roster items, %d subscription requests, %d vCards, %d private namespaces, %d offline messages, %d PEP nodes with %d items\n",
			f, res.Accounts, res.RosterItems, res.Pending, res.VCards, res.Private, res.Offline, res.Nodes, res.Items)
		if err != nil {
			return fmt.Errorf("import %s: %w", f, err)
		}
		// Hashes every imported account has credentials of: a client
		// that picks another cannot log in to an account without it.
		var common []string
		for _, h := range []string{auth.HashSHA512, auth.HashSHA256, auth.HashSHA1} {
			if res.Accounts > 0 && res.Hashes[h] == res.Accounts {
				common = append(common, h)
			}
		}
		if res.Accounts > 0 && len(common) < 3 {
			fmt.Fprintf(stdout, "%s: the imported accounts all have SCRAM credentials of %q only (counts: %v): until their users set their passwords again, set c2s.scram_hashes = %q\n",
				f, common, res.Hashes, common)
		}
	}
	return nil
}
