// Command xmppd is an XMPP server.
//
// Usage:
//
//	xmppd [-c FILE] [serve]          run the server
//	xmppd [-c FILE] user add JID     create an account (password from a prompt or stdin)
//	xmppd [-c FILE] user passwd JID  change a password
//	xmppd [-c FILE] user delete JID  delete an account
//	xmppd [-c FILE] user list [HOST] list accounts
//	xmppd [-c FILE] invite create HOST  make an invitation token for registration
//	xmppd [-c FILE] invite list [HOST]  list invitations
//	xmppd [-c FILE] import FILE...   import accounts from XEP-0227 files
//	xmppd [-c FILE] export FILE      export the accounts to a XEP-0227 file
//	xmppd [-c FILE] migrate          apply database migrations and exit
//	xmppd [-c FILE] check-config     validate the configuration and exit
//	xmppd [-c FILE] check            check DNS records and certificates as others see them
//	xmppd version                    print the version
//	xmppd help                       print the usage
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"xmppd/config"
	"xmppd/server"
	"xmppd/storage"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "xmppd:", err)
		os.Exit(1)
	}
}

const usage = `usage: xmppd [-c FILE] [command]

commands:
  serve                 run the server (default)
  user add JID          create an account; the password is read from a prompt, or from stdin
  user passwd JID       change an account's password
  user delete JID       delete an account
  user list [HOST]      list accounts
  invite create [-valid DURATION] [-user NAME] HOST
                        make a registration invitation token (XEP-0401 style);
                        -user reserves the username it registers
  invite list [HOST]    list invitations: unused, used (by whom) or expired
  import [-drop-newer-archives] FILE...
                        import accounts and their data from XEP-0227 files
  export FILE           export every account and its data to a XEP-0227 file ("-": stdout)
  migrate               apply database migrations and exit
  check-config          validate the configuration file and exit
  check                 check the DNS records and certificates that clients and servers will see
  version               print the version
  help                  print this help
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("xmppd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	path := fs.String("c", os.Getenv("XMPPD_CONFIG"), "configuration file (TOML); empty uses the defaults")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h: the usage was asked for, and printed
		}
		return err
	}
	cmd := fs.Args()
	if len(cmd) == 0 {
		cmd = []string{"serve"}
	}
	switch cmd[0] {
	case "version":
		fmt.Fprintln(stdout, "xmppd", server.Version)
		return nil
	case "help":
		fs.SetOutput(stdout)
		fs.Usage()
		return nil
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if cmd[0] == "serve" {
		return serve(ctx, cfg, *path, newLogger(stderr, cfg.LogLevel), stdout)
	}
	// The other commands say what they did themselves; only problems are logged.
	log := newLogger(stderr, "warn")
	switch cmd[0] {
	case "check-config":
		if err := checkCertificateFiles(cfg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "configuration OK: hosts %v\n", cfg.Hosts)
		return nil
	case "check":
		return checkCommand(ctx, cfg, log, stdout)
	case "migrate":
		db, err := server.OpenDatabase(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer db.Close()
		v, err := storage.SchemaVersion(ctx, db.Pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "database schema is at version %d\n", v)
		return nil
	case "user":
		return userCommand(ctx, cfg, log, cmd[1:], stdin, stdout)
	case "invite":
		return inviteCommand(ctx, cfg, log, cmd[1:], stdout)
	case "import":
		return importCommand(ctx, cfg, log, cmd[1:], stdout)
	case "export":
		return exportCommand(ctx, cfg, log, cmd[1:], stdout)
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", cmd[0])
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// serve runs the server until SIGINT or SIGTERM, or until the private
// PostgreSQL dies (an error); SIGHUP, and each day, reload the
// certificates. cfgPath is the configuration file cfg came from ("":
// none), for the commands the welcome suggests.
func serve(ctx context.Context, cfg config.Config, cfgPath string, log *slog.Logger, stdout io.Writer) error {
	// Room for every kind of signal, so a SIGTERM right after a SIGHUP
	// is not dropped while the reload runs.
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	srv, err := start(ctx, cfg, log, sigs)
	if err != nil || srv == nil {
		return err
	}
	if addr := os.Getenv("XMPPD_PPROF"); addr != "" {
		// Profiling for developers, on an address of their choosing only.
		go func() { log.Error("pprof listener", "err", http.ListenAndServe(addr, nil)) }()
	}
	printWelcome(stdout, cfg, cfgPath, srv)
	lost := waitForStop(srv, log, certificateReloadInterval, sigs)
	if lost != nil {
		log.Error("stopping", "err", lost)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(stopCtx); lost == nil && err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Info("stopped")
	return lost
}

// start builds and starts the server. SIGINT or SIGTERM meanwhile stop
// the start and what it began (initdb, the private PostgreSQL,
// migrations), after which start returns neither server nor error, as
// a stop asked for; SIGHUP is ignored, the certificates being new.
func start(ctx context.Context, cfg config.Config, log *slog.Logger, sigs <-chan os.Signal) (*server.Server, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started, watching := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watching)
		for {
			select {
			case sig := <-sigs:
				if sig != syscall.SIGHUP {
					log.Info("stopping while starting", "signal", sig.String())
					cancel()
					return
				}
			case <-started:
				return
			}
		}
	}()
	srv, err := server.New(ctx, cfg, log)
	if err == nil {
		if err = srv.Start(); err != nil {
			srv.Shutdown(context.Background())
		}
	}
	// Signals from now on are waitForStop's.
	close(started)
	<-watching
	switch {
	case ctx.Err() != nil && err != nil:
		log.Info("stopped before serving", "err", err)
		return nil, nil
	case ctx.Err() != nil:
		srv.Shutdown(context.Background())
		log.Info("stopped")
		return nil, nil
	}
	return srv, err
}

// certificateReloadInterval is how often a running server reloads its
// certificates unasked, as at SIGHUP: a generated self-signed one is
// renewed when due, files another tool renewed are taken up, and those
// about to expire are warned about again.
const certificateReloadInterval = 24 * time.Hour

// running is what waitForStop needs of the server.
type running interface {
	DatabaseLost() <-chan struct{}
	Displaced() <-chan error
	ReloadCertificates() error
}

// waitForStop returns at SIGINT or SIGTERM on sigs, reloading the certificates at
// each SIGHUP and every reloadEvery meanwhile, or, with an error saying
// so, when the private PostgreSQL has died: without it nothing can be
// stored, and exiting lets a supervisor such as systemd start both again.
// It returns too when another server took the database from this one
// (server.Server.Displaced).
func waitForStop(srv running, log *slog.Logger, reloadEvery time.Duration, sigs <-chan os.Signal) error {
	reload := time.NewTicker(reloadEvery)
	defer reload.Stop()
	for {
		select {
		case <-srv.DatabaseLost():
			return errors.New("the private PostgreSQL exited")
		case err := <-srv.Displaced():
			return err
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				log.Info("stopping", "signal", sig.String())
				return nil
			}
		case <-reload.C:
		}
		if err := srv.ReloadCertificates(); err != nil {
			log.Error("reloading certificates", "err", err)
		} else {
			log.Info("certificates reloaded")
		}
	}
}

// printWelcome tells where the server listens and how to add a user and
// check the deployment, with the configuration file at cfgPath: without
// it, a command would use another database.
func printWelcome(w io.Writer, cfg config.Config, cfgPath string, srv *server.Server) {
	host := cfg.Hosts[0]
	command := "./xmppd"
	if cfgPath != "" {
		command += " -c " + shellQuote(cfgPath)
	}
	fmt.Fprintf(w, "\nxmppd %s is serving %v\n", server.Version, cfg.Hosts)
	if srv.C2SAddr != nil {
		fmt.Fprintf(w, "  clients (STARTTLS):   %s\n", srv.C2SAddr)
	}
	if srv.DirectTLSAddr != nil {
		fmt.Fprintf(w, "  clients (direct TLS): %s\n", srv.DirectTLSAddr)
	}
	if srv.HTTPAddr != nil {
		fmt.Fprintf(w, "  WebSocket:            ws://%s%s%s\n", host, portOf(srv.HTTPAddr.String()), cfg.HTTP.WebSocketPath)
		if cfg.HTTP.BOSHPath != "" {
			fmt.Fprintf(w, "  BOSH:                 http://%s%s%s\n", host, portOf(srv.HTTPAddr.String()), cfg.HTTP.BOSHPath)
		}
	}
	if srv.HTTPSAddr != nil {
		fmt.Fprintf(w, "  WebSocket over TLS:   wss://%s%s%s\n", host, portOf(srv.HTTPSAddr.String()), cfg.HTTP.WebSocketPath)
		if cfg.HTTP.BOSHPath != "" {
			fmt.Fprintf(w, "  BOSH over TLS:        https://%s%s%s\n", host, portOf(srv.HTTPSAddr.String()), cfg.HTTP.BOSHPath)
		}
	}
	if srv.Proxy65Addr != nil {
		fmt.Fprintf(w, "  bytestreams proxy:    proxy.%s on %s\n", host, srv.Proxy65Addr)
	}
	if srv.S2SAddr != nil {
		fmt.Fprintf(w, "  other servers:        %s\n", srv.S2SAddr)
	}
	if srv.S2STLSAddr != nil {
		fmt.Fprintf(w, "  other servers (TLS):  %s\n", srv.S2STLSAddr)
	}
	if srv.ACMEAddr != nil {
		fmt.Fprintf(w, "  ACME challenges:      %s\n", srv.ACMEAddr)
	}
	fmt.Fprintf(w, "\nAdd a user (in another terminal):\n  %s user add alice@%s\n", command, host)
	if cfg.ACME.Enabled {
		fmt.Fprintf(w, "Then log in from any XMPP client as alice@%s (certificates come from ACME; the log says when each arrives).\n", host)
	} else {
		fmt.Fprintf(w, "Then log in from any XMPP client as alice@%s (the certificate is self-signed unless you configured one; accept it).\n", host)
	}
	if host != "localhost" {
		fmt.Fprintf(w, "Check what clients and other servers will find (DNS, certificates): %s check\n", command)
	}
	fmt.Fprintf(w, "Stop with Ctrl-C.\n\n")
}

// shellQuote returns s as a shell word: as it is when it holds only
// characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+,:@%=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return ""
}
