// Package admin implements the service administration commands of
// XEP-0133 as ad-hoc commands (package adhoc) for the server's
// administrators: adding, deleting and ending the sessions of accounts,
// changing their passwords, counting and listing users, announcing a
// message to everyone online, and setting the message of the day. A
// submitted form of another FORM_TYPE than XEP-0133's is refused; one
// without a FORM_TYPE is taken.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/adhoc"
	"xmppd/auth"
	"xmppd/dataform"
	"xmppd/router"
	"xmppd/stanza"
	"xmppd/storage"
	"xmppd/xmlstream"
)

// NS is the namespace of XEP-0133: the FORM_TYPE of its forms, and the
// beginning of its command nodes.
const NS = "http://jabber.org/protocol/admin"

// Accounts creates, changes and counts accounts. Domain and username are
// normalised by the caller.
type Accounts interface {
	// Create creates the account; one that exists is storage.ErrExists.
	Create(ctx context.Context, domain, username string, creds []auth.Credential) error
	// SetCredentials replaces the account's credentials; an unknown
	// account is storage.ErrNotFound.
	SetCredentials(ctx context.Context, domain, username string, creds []auth.Credential) error
	// Count returns how many accounts domain has.
	Count(ctx context.Context, domain string) (int, error)
}

// Config configures the commands.
type Config struct {
	// Admins are the bare JIDs that may run the commands.
	Admins []jid.JID
	// Accounts is the account store.
	Accounts Accounts
	// Delete deletes an account as an in-band removal does: its contacts
	// are told, its data is gone and its sessions end. An unknown account
	// is storage.ErrNotFound.
	Delete func(ctx context.Context, account jid.JID) error
	// MOTD keeps the hosts' messages of the day; nil offers no commands
	// for them.
	MOTD   MOTD
	Logger *slog.Logger
}

// MOTD sets and deletes a host's message of the day (package motd).
type MOTD interface {
	Set(ctx context.Context, host, body string) error
	Delete(ctx context.Context, host string) error
}

// maxListed bounds the accounts get-online-users-list shows.
const maxListed = 1000

// Register offers the commands on s, to the administrators of cfg, for
// the accounts of the hosts r serves.
func Register(s *adhoc.Service, r *router.Router, cfg Config) {
	admins := map[string]bool{}
	for _, a := range cfg.Admins {
		admins[a.Bare().String()] = true
	}
	c := &commands{cfg: cfg, r: r, log: cfg.Logger}
	allowed := func(requester jid.JID) bool { return admins[requester.Bare().String()] }
	for _, cmd := range []adhoc.Command{
		{Node: NS + "#add-user", Name: "Add a user", Form: form("Add a user",
			field("accountjid", "jid-single", "The account's address"),
			field("password", "text-private", "Password"),
			field("password-verify", "text-private", "Password again")), Run: c.addUser},
		{Node: NS + "#delete-user", Name: "Delete users", Form: form("Delete users",
			field("accountjids", "jid-multi", "The accounts' addresses")), Run: c.deleteUsers},
		{Node: NS + "#end-user-session", Name: "End users' sessions", Form: form("End users' sessions",
			field("accountjids", "jid-multi", "The accounts' addresses, or a session's full address")), Run: c.endSessions},
		{Node: NS + "#change-user-password", Name: "Change a user's password", Form: form("Change a user's password",
			field("accountjid", "jid-single", "The account's address"),
			field("password", "text-private", "New password")), Run: c.changePassword},
		{Node: NS + "#get-registered-users-num", Name: "Count the registered users", Run: c.registeredUsers},
		{Node: NS + "#get-online-users-num", Name: "Count the online users", Run: c.onlineUsers},
		{Node: NS + "#get-online-users-list", Name: "List the online users", Run: c.onlineList},
		{Node: NS + "#announce", Name: "Send an announcement to the online users", Form: form("Send an announcement to the online users",
			dataform.Field{Var: "subject", Type: "text-single", Label: "Subject"},
			field("announcement", "text-multi", "Announcement")), Run: c.announce},
	} {
		cmd.Allowed = allowed
		s.Add(ofFormType(cmd))
	}
	if cfg.MOTD != nil {
		s.Add(ofFormType(adhoc.Command{Node: NS + "#set-motd", Name: "Set the message of the day", Allowed: allowed,
			Form: form("Set the message of the day", field("motd", "text-multi", "Message of the day")), Run: c.setMOTD}))
		s.Add(adhoc.Command{Node: NS + "#delete-motd", Name: "Delete the message of the day", Allowed: allowed, Run: c.deleteMOTD})
	}
}

// ofFormType makes cmd refuse a submitted form whose FORM_TYPE is not
// XEP-0133's (§3), so that a form meant for something else runs nothing.
// A form without a FORM_TYPE is taken: the field is hidden, and some
// clients do not return hidden fields.
func ofFormType(cmd adhoc.Command) adhoc.Command {
	if cmd.Form == nil {
		return cmd
	}
	run := cmd.Run
	cmd.Run = func(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
		if ft := req.Form.FormType(); ft != "" && ft != NS {
			return "", nil, &adhoc.Failure{Text: fmt.Sprintf("the form's FORM_TYPE is %q, not %s", ft, NS)}
		}
		return run(ctx, req)
	}
	return cmd
}

// form is a command's form: a FORM_TYPE and fields.
func form(title string, fields ...dataform.Field) *dataform.Form {
	f := &dataform.Form{Title: title, Fields: []dataform.Field{{Var: "FORM_TYPE", Type: "hidden", Values: []string{NS}}}}
	f.Fields = append(f.Fields, fields...)
	return f
}

// field is a required field.
func field(v, typ, label string) dataform.Field {
	return dataform.Field{Var: v, Type: typ, Label: label, Required: true}
}

// result is a form of results.
func result(fields ...dataform.Field) *dataform.Form {
	f := form("")
	f.Fields = append(f.Fields, fields...)
	return f
}

type commands struct {
	cfg Config
	r   *router.Router
	log *slog.Logger
}

// values returns the submitted values of v, trimmed, without empty ones.
func values(f dataform.Form, v string) []string {
	fd, _ := f.Field(v)
	var out []string
	for _, s := range fd.Values {
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

// value returns the first submitted value of v, or "".
func value(f dataform.Form, v string) string {
	fd, _ := f.Field(v)
	if len(fd.Values) == 0 {
		return ""
	}
	return fd.Values[0]
}

// account parses s as the bare JID of an account on a served host.
func (c *commands) account(s string) (jid.JID, error) {
	j, err := jid.Parse(strings.TrimSpace(s))
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return jid.JID{}, &adhoc.Failure{Text: fmt.Sprintf("%q is not the address of an account", s)}
	}
	if !c.r.IsLocal(j.Domainpart()) {
		return jid.JID{}, &adhoc.Failure{Text: "this server does not serve " + j.Domainpart()}
	}
	return j, nil
}

// accounts parses the values of v as accounts; there must be one.
func (c *commands) accounts(f dataform.Form, v string) ([]jid.JID, error) {
	list := values(f, v)
	if len(list) == 0 {
		return nil, &adhoc.Failure{Text: "give at least one account"}
	}
	var out []jid.JID
	for _, s := range list {
		j, err := c.account(s)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// credentials checks a new password and derives its credentials.
func credentials(password string) ([]auth.Credential, error) {
	if password == "" {
		return nil, &adhoc.Failure{Text: "give a password"}
	}
	creds, err := auth.DeriveCredentials(password, auth.DefaultIterations)
	if err != nil {
		return nil, &adhoc.Failure{Text: "the password is not acceptable"}
	}
	return creds, nil
}

func (c *commands) addUser(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	j, err := c.account(value(req.Form, "accountjid"))
	if err != nil {
		return "", nil, err
	}
	password := value(req.Form, "password")
	// XEP-0133 §4.1 asks for the password twice; a missing repetition
	// differs as a wrong one does.
	if value(req.Form, "password-verify") != password {
		return "", nil, &adhoc.Failure{Text: "the passwords differ"}
	}
	creds, err := credentials(password)
	if err != nil {
		return "", nil, err
	}
	err = c.cfg.Accounts.Create(ctx, j.Domainpart(), j.Localpart(), creds)
	if errors.Is(err, storage.ErrExists) {
		return "", nil, &adhoc.Failure{Text: j.String() + " exists already"}
	}
	if err != nil {
		return "", nil, fmt.Errorf("admin: adding %s: %w", j, err)
	}
	c.log.Info("admin: account added", "admin", req.From.Bare().String(), "jid", j.String())
	return j.String() + " was added.", nil, nil
}

func (c *commands) deleteUsers(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	list, err := c.accounts(req.Form, "accountjids")
	if err != nil {
		return "", nil, err
	}
	var deleted, unknown []string
	for _, j := range list {
		err := c.cfg.Delete(ctx, j)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			unknown = append(unknown, j.String())
			continue
		case err != nil:
			return "", nil, fmt.Errorf("admin: deleting %s: %w", j, err)
		}
		deleted = append(deleted, j.String())
		c.log.Info("admin: account deleted", "admin", req.From.Bare().String(), "jid", j.String())
	}
	note := "Deleted: " + list2(deleted) + "."
	if len(unknown) > 0 {
		note += " No such account: " + list2(unknown) + "."
	}
	return note, nil, nil
}

// endSessions ends the sessions of each account given by its bare JID,
// and the one session given by a full JID (XEP-0133 §4.5).
func (c *commands) endSessions(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	list := values(req.Form, "accountjids")
	if len(list) == 0 {
		return "", nil, &adhoc.Failure{Text: "give at least one account"}
	}
	var sessions []jid.JID
	for _, s := range list {
		j, err := jid.Parse(s)
		if err != nil {
			return "", nil, &adhoc.Failure{Text: fmt.Sprintf("%q is not the address of an account", s)}
		}
		if _, err := c.account(j.Bare().String()); err != nil {
			return "", nil, err
		}
		sessions = append(sessions, j)
	}
	var names []string
	for _, j := range sessions {
		const condition, text = "policy-violation", "an administrator ended the session"
		if j.Resourcepart() == "" {
			c.r.EndSessions(j, condition, text)
		} else if sess := c.r.LocalSession(j); sess != nil {
			sess.End(condition, text)
		} else if sess := c.r.Mirrored(j); sess != nil {
			// Bound on another node of the cluster.
			sess.End(condition, text)
		}
		names = append(names, j.String())
	}
	c.log.Info("admin: sessions ended", "admin", req.From.Bare().String(), "jids", names)
	return "Ended the sessions of " + list2(names) + ".", nil, nil
}

func (c *commands) changePassword(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	j, err := c.account(value(req.Form, "accountjid"))
	if err != nil {
		return "", nil, err
	}
	creds, err := credentials(value(req.Form, "password"))
	if err != nil {
		return "", nil, err
	}
	err = c.cfg.Accounts.SetCredentials(ctx, j.Domainpart(), j.Localpart(), creds)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil, &adhoc.Failure{Text: "no such account: " + j.String()}
	}
	if err != nil {
		return "", nil, fmt.Errorf("admin: changing the password of %s: %w", j, err)
	}
	c.log.Info("admin: password changed", "admin", req.From.Bare().String(), "jid", j.String())
	c.r.EndSessionsExcept(j, req.From, "reset", "the account's password was changed")
	return "The password of " + j.String() + " was changed.", nil, nil
}

func (c *commands) registeredUsers(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	n, err := c.cfg.Accounts.Count(ctx, req.To.Domainpart())
	if err != nil {
		return "", nil, fmt.Errorf("admin: counting the accounts of %s: %w", req.To.Domainpart(), err)
	}
	return "", result(dataform.Field{Var: "registeredusersnum", Label: "Registered users", Values: []string{strconv.Itoa(n)}}), nil
}

func (c *commands) onlineUsers(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	n := len(c.r.OnlineAccounts(req.To.Domainpart()))
	return "", result(dataform.Field{Var: "onlineusersnum", Label: "Online users", Values: []string{strconv.Itoa(n)}}), nil
}

func (c *commands) onlineList(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	online := c.r.OnlineAccounts(req.To.Domainpart())
	note := ""
	if len(online) > maxListed {
		note = fmt.Sprintf("The first %d of %d online users.", maxListed, len(online))
		online = online[:maxListed]
	}
	fd := dataform.Field{Var: "onlineuserjids", Type: "jid-multi", Label: "Online users"}
	for _, j := range online {
		fd.Values = append(fd.Values, j.String())
	}
	return note, result(fd), nil
}

// announce sends the announcement as a headline from the server to every
// online account of its host, which reaches each of their resources.
func (c *commands) announce(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	fd, _ := req.Form.Field("announcement")
	body := strings.TrimSpace(strings.Join(fd.Values, "\n"))
	if body == "" {
		return "", nil, &adhoc.Failure{Text: "the announcement is empty"}
	}
	subject := strings.TrimSpace(value(req.Form, "subject"))
	online := c.r.OnlineAccounts(req.To.Domainpart())
	for _, j := range online {
		m := xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", req.To.Domainpart(), "to", j.String(), "type", "headline", "id", stanza.NewID())
		if subject != "" {
			m.AddChild(xmlstream.NewElement(stanza.NSClient, "subject").AddText(subject))
		}
		m.AddChild(xmlstream.NewElement(stanza.NSClient, "body").AddText(body))
		c.r.Route(ctx, m)
	}
	c.log.Info("admin: announcement sent", "admin", req.From.Bare().String(), "recipients", len(online))
	return fmt.Sprintf("Sent to %d online users.", len(online)), nil, nil
}

// setMOTD sets the message of the day of the host the command was sent
// to; each account gets it once, at its next login.
func (c *commands) setMOTD(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	fd, _ := req.Form.Field("motd")
	body := strings.TrimSpace(strings.Join(fd.Values, "\n"))
	if body == "" {
		return "", nil, &adhoc.Failure{Text: "the message is empty"}
	}
	if err := c.cfg.MOTD.Set(ctx, req.To.Domainpart(), body); err != nil {
		return "", nil, fmt.Errorf("admin: setting the message of the day: %w", err)
	}
	c.log.Info("admin: message of the day set", "admin", req.From.Bare().String(), "host", req.To.Domainpart())
	return "Each account gets the message once, at its next login.", nil, nil
}

func (c *commands) deleteMOTD(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
	if err := c.cfg.MOTD.Delete(ctx, req.To.Domainpart()); err != nil {
		return "", nil, fmt.Errorf("admin: deleting the message of the day: %w", err)
	}
	c.log.Info("admin: message of the day deleted", "admin", req.From.Bare().String(), "host", req.To.Domainpart())
	return "The message of the day was deleted.", nil, nil
}

// list2 joins names for a note, or says none.
func list2(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
