package register

import (
	"context"
	"net/url"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/adhoc"
	"xmppd/dataform"
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
			result := &dataform.Form{Type: "result", Fields: []dataform.Field{
				{Var: "FORM_TYPE", Type: "hidden", Values: []string{NSInvite + "#invitation"}},
				{Var: "uri", Type: "text-single", Label: "Invitation",
					Values: []string{"xmpp:" + req.From.Bare().String() + "?roster;preauth=" + url.QueryEscape(token) + ";ibr=y"}},
			}}
			if base := landing(req.From.Domainpart()); base != "" {
				result.Fields = append(result.Fields, dataform.Field{Var: "landing-url", Type: "text-single",
					Label: "Invitation page", Values: []string{InviteLink(base, token)}})
			}
			result.Fields = append(result.Fields, dataform.Field{Var: "expire", Type: "text-single",
				Label: "Valid until", Values: []string{expires.Format(time.RFC3339)}})
			return "", result, nil
		},
	}
}
