package main

import (
	"net"
	"strings"
	"testing"

	"xmppd/config"
	"xmppd/server"
)

// The commands the welcome suggests use the server's configuration file:
// without it they would use the defaults, and another database.
func TestWelcomeNamesTheConfigFile(t *testing.T) {
	cfg := config.Default()
	cfg.Hosts = []string{"example.org"}
	srv := &server.Server{C2SAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5222}}
	for path, want := range map[string]string{
		"":                       "  ./xmppd user add alice@example.org\n",
		"/etc/xmppd/xmppd.toml":  "  ./xmppd -c /etc/xmppd/xmppd.toml user add alice@example.org\n",
		"/srv/my xmpp/it's.toml": `  ./xmppd -c '/srv/my xmpp/it'\''s.toml' user add alice@example.org` + "\n",
	} {
		var out strings.Builder
		printWelcome(&out, cfg, path, srv)
		if !strings.Contains(out.String(), want) {
			t.Errorf("the welcome with configuration %q lacks %q:\n%s", path, want, out.String())
		}
		if path != "" && !strings.Contains(out.String(), "./xmppd -c "+shellQuote(path)+" check\n") {
			t.Errorf("the welcome with configuration %q suggests xmppd check without it:\n%s", path, out.String())
		}
	}
}
