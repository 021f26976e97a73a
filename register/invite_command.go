package register

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/adhoc"
	"xmppd/dataform"
	"xmppd/storage"
)

// NSInvite is the namespace of XEP-0401's commands and result form.
const NSInvite = "urn:xmpp:invite"

// InviteValidity is how long a new invitation can be used.
const InviteValidity = 7 * 24 * time.Hour

// InviteMaker makes invitations that a user of domain gives out; the
// account they create and inviter, the user's username, are then
// subscribed to each other.
type InviteMaker func(ctx context.Context, domain, inviter string, expires time.Time) (token string, err error)

// InviteCommand returns XEP-0401's user invitation command
// (urn:xmpp:invite#invite, §5.1), which the users of hosts may run: it
// makes an invitation with create and answers at once with its xmpp: URI,
// its landing page at landing(host) ("" for none: the client makes one)
// and its expiry. The URI lets the invited person register here
// (ibr=y, XEP-0445) and have the inviter as a contact.
func InviteCommand(hosts []string, create InviteMaker, landing func(host string) string, now func() time.Time) adhoc.Command {
	return adhoc.Command{
		Node: NSInvite + "#invite",
		Name: "Invite a friend",
		Allowed: func(requester jid.JID) bool {
			return requester.Localpart() != "" && slices.Contains(hosts, requester.Domainpart())
		},
		Run: func(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
			expires := now().Add(InviteValidity).UTC().Truncate(time.Second)
			token, err := create(ctx, req.From.Domainpart(), req.From.Localpart(), expires)
			if err != nil {
				return "", nil, err
			}
			uri := "xmpp:" + req.From.Bare().String() + "?roster;preauth=" + url.QueryEscape(token) + ";ibr=y"
			return "", invitationForm(uri, landing(req.From.Domainpart()), token, expires), nil
		},
	}
}

// invitationForm is the result of XEP-0401's commands (§5.2, §5.4): the
// invitation's xmpp: URI, its page on the HTTP server at landing ("" for
// none) and its expiry.
func invitationForm(uri, landing, token string, expires time.Time) *dataform.Form {
	result := &dataform.Form{Type: "result", Fields: []dataform.Field{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{NSInvite + "#invitation"}},
		{Var: "uri", Type: "text-single", Label: "Invitation", Values: []string{uri}},
	}}
	if landing != "" {
		result.Fields = append(result.Fields, dataform.Field{Var: "landing-url", Type: "text-single",
			Label: "Invitation page", Values: []string{InviteLink(landing, token)}})
	}
	result.Fields = append(result.Fields, dataform.Field{Var: "expire", Type: "text-single",
		Label: "Valid until", Values: []string{expires.Format(time.RFC3339)}})
	return result
}

// AccountInviteMaker makes an invitation to create an account of domain
// with username ("" lets the invited person choose one), whose account
// and inviter, the username of an account of domain, are subscribed to
// each other ("" for none). A username that is an account already, or
// that another valid invitation reserves, is storage.ErrExists.
type AccountInviteMaker func(ctx context.Context, domain, inviter, username string, expires time.Time) (token string, err error)

// CreateAccountCommand returns XEP-0401's account invitation command
// (urn:xmpp:invite#create-account, §5.4), which the administrators
// (isAdmin) of hosts may run. Its form asks for the new account's
// username, which the invitation then reserves until it expires (§6.2),
// and whether the new account and the administrator are to be
// subscribed to each other. It answers with the invitation's xmpp: URI
// (xmpp:username@host?register;preauth=TOKEN, without username@ when
// none was given), its page at landing(host) and its expiry.
func CreateAccountCommand(hosts []string, isAdmin func(jid.JID) bool, create AccountInviteMaker, landing func(host string) string, now func() time.Time) adhoc.Command {
	return adhoc.Command{
		Node: NSInvite + "#create-account",
		Name: "Invite someone to an account",
		Allowed: func(requester jid.JID) bool {
			return slices.Contains(hosts, requester.Domainpart()) && isAdmin(requester)
		},
		Form: &dataform.Form{Title: "Invite someone to an account", Fields: []dataform.Field{
			{Var: "username", Type: "text-single", Label: "Username (empty: the invited person chooses)"},
			{Var: "roster-subscription", Type: "boolean", Label: "Add the new account to my contacts", Values: []string{"0"}},
		}},
		Run: func(ctx context.Context, req adhoc.Request) (string, *dataform.Form, error) {
			domain := req.From.Domainpart()
			var username string
			if f, ok := req.Form.Field("username"); ok && len(f.Values) > 0 && strings.TrimSpace(f.Values[0]) != "" {
				j, err := jid.New(strings.TrimSpace(f.Values[0]), domain, "")
				if err != nil {
					return "", nil, &adhoc.Failure{Text: fmt.Sprintf("%q is not a valid username", f.Values[0])}
				}
				username = j.Localpart()
			}
			var inviter string
			if f, ok := req.Form.Field("roster-subscription"); ok && len(f.Values) > 0 {
				subscribe, valid := dataform.ParseBool(f.Values[0])
				if !valid {
					return "", nil, &adhoc.Failure{Text: fmt.Sprintf("roster-subscription %q is not a boolean", f.Values[0])}
				}
				if subscribe {
					inviter = req.From.Localpart()
				}
			}
			expires := now().Add(InviteValidity).UTC().Truncate(time.Second)
			token, err := create(ctx, domain, inviter, username, expires)
			if errors.Is(err, storage.ErrExists) {
				return "", nil, &adhoc.Failure{Text: fmt.Sprintf("%s@%s is an account already, or reserved by another invitation", username, domain)}
			}
			if err != nil {
				return "", nil, err
			}
			address := domain
			if username != "" {
				address = url.PathEscape(username) + "@" + domain
			}
			return "", invitationForm("xmpp:"+address+"?register;preauth="+url.QueryEscape(token), landing(domain), token, expires), nil
		},
	}
}
