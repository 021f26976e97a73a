package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"xmppd/auth"
	"xmppd/config"
	"xmppd/pie"
	"xmppd/server"
)

// importCommand imports XEP-0227 files (package pie) into the database.
func importCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dropNewer := fs.Bool("drop-newer-archives", false, "import even when the files' archives overlap what this server archived, leaving out the overlapping messages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return errors.New("import: expected XEP-0227 files (ejabberd's export_piefxis, Prosody's xep0227 storage)")
	}
	db, err := server.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	unlock, err := server.LockImport(ctx, db.Pool)
	if err != nil {
		return err
	}
	defer unlock()
	im := server.Importer(cfg, db.Pool)
	// Imported history goes before what is archived here: history that
	// overlaps it cannot, and would be left out.
	switch err := im.CheckArchives(ctx, files); {
	case errors.Is(err, pie.ErrArchiveOverlap) && !*dropNewer:
		return fmt.Errorf("import: %w; nothing was imported. Import archives into a server before it archives anything, or give -drop-newer-archives to leave out the overlapping messages", err)
	case err != nil && !errors.Is(err, pie.ErrArchiveOverlap):
		return fmt.Errorf("import: %w", err)
	}
	var failed error
	for _, f := range files {
		res, err := im.Import(ctx, f)
		for _, n := range res.Notes {
			fmt.Fprintf(stdout, "%s: %s\n", f, n)
		}
		fmt.Fprintf(stdout, "%s: %d accounts, %d roster items, %d subscription requests, %d vCards, %d private namespaces, %d offline messages, %d blocked JIDs, %d PEP nodes with %d items, %d archived messages\n",
			f, res.Accounts, res.RosterItems, res.Pending, res.VCards, res.Private, res.Offline, res.Blocked, res.Nodes, res.Items, res.Archived)
		if err != nil {
			// What was imported stays: its archives take their place too.
			failed = fmt.Errorf("import %s: %w", f, err)
			break
		}
		// A client that picks a hash an account has no credentials of
		// cannot log in to it: say which hashes to offer.
		with := res.Credentialed
		var common []string
		for _, h := range []string{auth.HashSHA512, auth.HashSHA256, auth.HashSHA1} {
			if with > 0 && res.Hashes[h] == with {
				common = append(common, h)
			}
		}
		switch {
		case with == 0 || len(common) == 3:
		case len(common) == 0:
			fmt.Fprintf(stdout, "%s: the imported accounts have credentials of different hashes (%v): no c2s.scram_hashes lets them all log in until they set their passwords again\n", f, res.Hashes)
		default:
			fmt.Fprintf(stdout, "%s: imported accounts have SCRAM credentials of %q only (%v): until their users set their passwords again, set c2s.scram_hashes = %q\n", f, common, res.Hashes, common)
		}
	}
	res, err := im.Finish(ctx)
	for _, n := range res.Notes {
		fmt.Fprintln(stdout, n)
	}
	if res.Archived > 0 {
		fmt.Fprintf(stdout, "%d archived messages took their place in the archives\n", res.Archived)
	}
	if err != nil {
		err = fmt.Errorf("import: %w", err)
	}
	return errors.Join(failed, err)
}

// exportCommand writes the accounts of the configured hosts and their data
// to a XEP-0227 file (package pie), or to stdout for "-".
func exportCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New(`export: expected one file to write ("-" for stdout)`)
	}
	db, err := server.OpenDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "-" {
		_, err := server.Exporter(cfg, db.Pool).Export(ctx, stdout)
		return err
	}
	var res pie.ExportResult
	err = createFile(args[0], func(w io.Writer) (err error) {
		res, err = server.Exporter(cfg, db.Pool).Export(ctx, w)
		return err
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %d accounts, %d archived messages\n", args[0], res.Accounts, res.Archived)
	return nil
}

// createFile creates path, which must not exist, has write fill it and
// syncs it. If anything fails, the file is removed: a partial export
// must not pass for a backup.
func createFile(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
