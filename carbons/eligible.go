package carbons

import (
	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// Namespaces of payloads that decide whether a message is copied.
const (
	nsHints      = "urn:xmpp:hints"                        // XEP-0334 <no-copy/>
	nsReceipts   = "urn:xmpp:receipts"                     // XEP-0184
	nsChatStates = "http://jabber.org/protocol/chatstates" // XEP-0085
	nsMarkers    = "urn:xmpp:chat-markers:0"               // XEP-0333
	nsConference = "jabber:x:conference"                   // XEP-0249 direct invitation
	nsMUCUser    = "http://jabber.org/protocol/muc#user"   // XEP-0045
)

// eligible reports whether st is a message to copy (XEP-0280 §6).
// received is true for a message on its way in to the account, false for
// one a client sent.
//
// Never copied:
//   - messages marked <private/> (XEP-0280 §9) or <no-copy/> (XEP-0334);
//   - carbons themselves (<sent/> or <received/>), which would loop;
//   - groupchat messages;
//   - errors: §6 allows copying an error answering an eligible message,
//     but that needs tracking which messages were eligible;
//   - private messages from a MUC participant (from a full JID, marked
//     with <x xmlns='http://jabber.org/protocol/muc#user'/>), which the
//     room already sends to each joined client.
//
// Copied otherwise, if any of these holds:
//   - the type is chat;
//   - the type is normal and there is a <body/>;
//   - there are IM payloads: receipts (XEP-0184), chat states (XEP-0085)
//     or chat markers (XEP-0333);
//   - there is a direct (XEP-0249) or mediated (XEP-0045 §7.8.2) MUC
//     invitation.
func eligible(st *xmlstream.Element, received bool) bool {
	if st.Name.Local != stanza.Message {
		return false
	}
	switch stanza.Type(st) {
	case "groupchat", "error":
		return false
	}
	var im, invitation, mucUser bool
	for _, c := range st.ChildElements() {
		switch c.Name.Space {
		case NS:
			switch c.Name.Local {
			case "private", "sent", "received":
				return false
			}
		case nsHints:
			if c.Name.Local == "no-copy" {
				return false
			}
		case nsReceipts, nsChatStates, nsMarkers:
			im = true
		case nsConference:
			invitation = invitation || c.Name.Local == "x"
		case nsMUCUser:
			if c.Name.Local == "x" {
				mucUser = true
				invitation = invitation || c.Child(nsMUCUser, "invite") != nil
			}
		}
	}
	if received && mucUser && !invitation && fromFullJID(st) {
		return false
	}
	switch {
	case stanza.Type(st) == "chat":
		return true
	case stanza.Type(st) == "normal" && st.Child(st.Name.Space, "body") != nil:
		return true
	}
	return im || invitation
}

// fromFullJID reports whether st's 'from' is a JID with a resource, such
// as a MUC occupant's.
func fromFullJID(st *xmlstream.Element) bool {
	j, err := jid.Parse(st.Attr("from"))
	return err == nil && j.Resourcepart() != ""
}
