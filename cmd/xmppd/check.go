package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"xmppd/certs"
	"xmppd/config"
	"xmppd/selfcheck"
	"xmppd/server"
	"xmppd/storage/postgres"
)

// checkCommand looks at the deployment as clients and other servers will
// (DNS records, certificates) and prints what it finds; it fails when
// something keeps them out.
func checkCommand(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	check := selfcheck.Config{Config: cfg}
	if cfg.ACME.Enabled {
		db, err := server.OpenDatabase(ctx, cfg, log)
		if err != nil {
			fmt.Fprintf(stdout, "the database could not be opened, so ACME certificates are not checked: %v\n", err)
		} else {
			defer db.Close()
			check.Stored = postgres.NewACME(db.Pool).Certificate
		}
	}
	return printFindings(stdout, selfcheck.Run(ctx, check))
}

// printFindings writes one line per finding and returns an error counting
// the failures, if any.
func printFindings(w io.Writer, found []selfcheck.Finding) error {
	failed := 0
	for _, f := range found {
		fmt.Fprintf(w, "%-4s  %s: %s\n", f.Level, f.Subject, f.Text)
		if f.Level == selfcheck.Fail {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("check: %d problem(s) keep clients or servers out", failed)
	}
	fmt.Fprintln(w, "no problem keeps clients or servers out")
	return nil
}

// checkCertificateFiles loads the certificate and key files of
// tls.certificates as the server does at start, so that check-config
// finds a wrong path or a key of another certificate.
func checkCertificateFiles(cfg config.Config) error {
	for i, c := range cfg.TLS.Certificates {
		if _, err := certs.LoadFiles(c.Cert, c.Key); err != nil {
			return fmt.Errorf("tls.certificates[%d] (host %q): %w", i, c.Host, err)
		}
	}
	return nil
}
