package register_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/register"
)

// get fetches path from s's HTTP listener.
func get(t *testing.T, s *xmpptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr.String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// An invitation link opens a page with the xmpp: URI apps register with,
// for the invitation's host, until the invitation is used or expires.
func TestInvitePage(t *testing.T) {
	s := xmpptest.Start(t, func(cfg *config.Config) {
		cfg.Registration.Enabled = true
		cfg.Registration.RequireInvite = true
	})
	inv := invites(t, s)
	ctx := context.Background()
	fresh, err := inv.Create(ctx, xmpptest.Domain, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := inv.Create(ctx, xmpptest.OtherDomain, time.Now().Add(time.Hour))
	expired, _ := inv.Create(ctx, xmpptest.Domain, time.Now().Add(-time.Minute))

	link := register.InviteLink("http://"+s.HTTPAddr.String(), fresh.Token)
	resp, page := get(t, s, strings.TrimPrefix(link, "http://"+s.HTTPAddr.String()))
	if resp.StatusCode != 200 || !strings.Contains(page, `href="xmpp:localhost?register;preauth=`+fresh.Token+`"`) ||
		!strings.Contains(page, "<code>"+fresh.Token+"</code>") {
		t.Fatalf("the page of a fresh invitation: %d\n%s", resp.StatusCode, page)
	}
	for name, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if resp, page := get(t, s, register.InvitePath+other.Token); resp.StatusCode != 200 || !strings.Contains(page, "xmpp:"+xmpptest.OtherDomain+"?register") {
		t.Errorf("the page of an invitation to %s: %d\n%s", xmpptest.OtherDomain, resp.StatusCode, page)
	}
	for name, token := range map[string]string{"expired": expired.Token, "unknown": "NOSUCHTOKEN", "empty": "", "long": strings.Repeat("x", 200)} {
		if resp, page := get(t, s, register.InvitePath+token); resp.StatusCode != 404 || !strings.Contains(page, "not valid") {
			t.Errorf("%s invitation: %d\n%s", name, resp.StatusCode, page)
		}
	}

	// Used, it is no longer offered.
	c, _ := connect(t, s)
	expectResult(t, ask(t, c, formIQ("reg1", "juliet", "balcony", fresh.Token)))
	if resp, _ := get(t, s, register.InvitePath+fresh.Token); resp.StatusCode != 404 {
		t.Errorf("a used invitation's page: %d, want 404", resp.StatusCode)
	}
}

// Without registration there are no invitation pages.
func TestNoInvitePageWithoutRegistration(t *testing.T) {
	s := xmpptest.Start(t)
	fresh, err := invites(t, s).Create(context.Background(), xmpptest.Domain, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if resp, page := get(t, s, register.InvitePath+fresh.Token); resp.StatusCode != 404 || strings.Contains(page, fresh.Token) {
		t.Errorf("with registration off: %d\n%s", resp.StatusCode, page)
	}
}
