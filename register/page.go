package register

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// InvitePath is where invitation pages are served, followed by the token:
// the link to send to the invited person.
const InvitePath = "/invite/"

// pageLookups bounds the invitation lookups under way at once: anyone may
// ask for a page.
const pageLookups = 8

// InviteLink returns the link to the page of token, on the HTTP server at
// base (e.g. "https://chat.example.org").
func InviteLink(base, token string) string {
	return strings.TrimSuffix(base, "/") + InvitePath + url.PathEscape(token)
}

// InvitePage serves the page an invitation link opens: how to join the
// host with an XMPP app, with the xmpp: URI that apps open to register
// with the token (XEP-0401), and the token itself for registering by
// hand. An unknown, used or expired token gets a page that says so (404).
func (s *Service) InvitePage(hosts []string) http.Handler {
	lookups := make(chan struct{}, pageLookups)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// The token is in the address: links to apps must not carry it.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Robots-Tag", "noindex")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		token := strings.TrimPrefix(r.URL.Path, InvitePath)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		select {
		case lookups <- struct{}{}:
			defer func() { <-lookups }()
		default:
			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
			return
		}
		host, err := s.inviteHost(r.Context(), hosts, token)
		if err != nil {
			s.log.Error("register: reading an invitation for its page", "err", err)
			http.Error(w, "invitations cannot be read right now", http.StatusServiceUnavailable)
			return
		}
		if host == "" {
			w.WriteHeader(http.StatusNotFound)
			invalidPage.Execute(w, nil)
			return
		}
		inviter, username, err := s.cfg.Invites.Names(r.Context(), host, token)
		if err != nil {
			s.log.Error("register: reading an invitation's names for its page", "err", err)
		}
		inv := invitation{Host: host, Token: token,
			URI: template.URL("xmpp:" + host + "?register;preauth=" + url.QueryEscape(token))}
		switch {
		case username != "":
			// An account invitation for a username (XEP-0401 §5.4).
			inv.Address = username + "@" + host
			inv.URI = template.URL("xmpp:" + url.PathEscape(username) + "@" + host + "?register;preauth=" + url.QueryEscape(token))
		case inviter != "":
			// A user's invitation (XEP-0401 §5.1): apps that open it add
			// the inviter, registering here first if need be.
			inv.Inviter = inviter + "@" + host
			inv.URI = template.URL("xmpp:" + inv.Inviter + "?roster;preauth=" + url.QueryEscape(token) + ";ibr=y")
		}
		invitePage.Execute(w, inv)
	})
}

// inviteHost returns the host of which token is a usable invitation, ""
// when none.
func (s *Service) inviteHost(ctx context.Context, hosts []string, token string) (string, error) {
	if token == "" || len(token) > 128 || !s.cfg.Enabled || s.cfg.Invites == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, host := range hosts {
		ok, err := s.cfg.Invites.Valid(ctx, host, token, s.now())
		if err != nil || ok {
			return host, err
		}
	}
	return "", nil
}

// invitation is what the page shows.
type invitation struct {
	Host, Token string
	// Inviter is the bare JID of the user who made the invitation, ""
	// for one of the operator's.
	Inviter string
	// Address is the bare JID the invitation reserves, "" for none.
	Address string
	// URI is xmpp:host?register;preauth=token, with the address the
	// invitation reserves in front of the ?, or for a user's invitation
	// xmpp:inviter?roster;preauth=token;ibr=y.
	URI template.URL
}

const pageStyle = `<style>
body { font-family: system-ui, sans-serif; max-width: 36em; margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #222; }
a.button { display: inline-block; padding: .6em 1.2em; background: #2a6ebb; color: #fff; border-radius: .4em; text-decoration: none; }
code { background: #eee; padding: .1em .3em; word-break: break-all; }
</style>`

var invitePage = template.Must(template.New("invite").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Join {{.Host}}</title>` + pageStyle + `</head><body>
{{if .Address}}<h1>Your account {{.Address}}</h1>
<p>An account is waiting for you on {{.Host}}, a chat server: with it you can talk with everyone
on it, and with people on any other XMPP server.</p>
<p><a class="button" href="{{.URI}}">Open the invitation in your app</a></p>
<p>Your app then asks you to choose a password for {{.Address}}.</p>
{{else if .Inviter}}<h1>{{.Inviter}} invites you to chat</h1>
<p>{{.Inviter}} is on {{.Host}}, a chat server: with an account on it you can talk with
everyone on it, and with people on any other XMPP server.</p>
<p><a class="button" href="{{.URI}}">Open the invitation in your app</a></p>
<p>Your app then adds {{.Inviter}} as a contact. If you have no account yet, it first
asks you to choose an address on {{.Host}} and a password.</p>
{{else}}<h1>You are invited to {{.Host}}</h1>
<p>{{.Host}} is a chat server: with an account on it you can talk with everyone on it,
and with people on any other XMPP server.</p>
<p><a class="button" href="{{.URI}}">Open the invitation in your app</a></p>
<p>Your app then asks you to choose an address on {{.Host}} and a password.</p>{{end}}
<h2>No XMPP app yet?</h2>
<p>Install one, come back to this page, and tap the button above:</p>
<ul>
<li>Android: <a href="https://conversations.im/">Conversations</a></li>
<li>iPhone, iPad and Mac: <a href="https://monal-im.org/">Monal</a></li>
<li>Linux: <a href="https://dino.im/">Dino</a> or <a href="https://gajim.org/">Gajim</a></li>
<li>Windows: <a href="https://gajim.org/">Gajim</a></li>
</ul>
<h2>Setting up by hand</h2>
<p>In your app, create a new account on the server <code>{{.Host}}</code>{{with .Address}} with the
address <code>{{.}}</code>{{end}}, and enter this invitation code when it asks for one: <code>{{.Token}}</code></p>
<p>The invitation works once.</p>
</body></html>
`))

var invalidPage = template.Must(template.New("invalid").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Invitation not valid</title>` + pageStyle + `</head><body>
<h1>This invitation is not valid</h1>
<p>It has been used already, it has expired, or it never existed.
Ask the person who invited you for a new one.</p>
</body></html>
`))
