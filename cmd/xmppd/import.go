package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

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
	}
	return nil
}
