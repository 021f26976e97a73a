package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"xmppd/dataform"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// NSRequest is the FORM_TYPE of voice requests and their approval
// (XEP-0045 §7.13, §8.6).
const NSRequest = NS + "#request"

// voiceForm returns the muc#request form of st, if it has one.
func voiceForm(st *xmlstream.Element) *xmlstream.Element {
	for _, x := range st.ChildElements() {
		if x.Name.Space == NSData && x.Name.Local == "x" && formValues(x)["FORM_TYPE"] == NSRequest {
			return x
		}
	}
	return nil
}

// voice handles a muc#request form from the occupant o (nil: not one):
// a visitor's request for voice (§7.13), which goes to every moderator
// as an approval form, or a moderator's answer to one (§8.6), which
// makes the visitor a participant when it allows it.
func (s *Service) voice(ctx context.Context, rm *room, o *occupant, st, x *xmlstream.Element) {
	v := formValues(x)
	switch {
	case o == nil:
		s.reply(ctx, st, stanza.NotAcceptable, "only occupants may ask for voice")
	case x.Attr("type") == "submit" && v["muc#roomnick"] != "" && o.role == Moderator:
		s.approveVoice(ctx, rm, o, st, v)
	case o.role != Visitor:
		s.reply(ctx, st, stanza.NotAcceptable, "you have a voice already")
	default:
		s.requestVoice(rm, o)
	}
}

// requestVoice sends the approval form for o to every moderator (§8.6),
// with o's real JID, which moderators may see.
func (s *Service) requestVoice(rm *room, o *occupant) {
	f := newForm("form", NSRequest)
	f.field("muc#role", "list-single", Participant)
	f.field("muc#jid", "jid-single", o.bare.String())
	f.field("muc#roomnick", "text-single", o.nick)
	f.field("muc#request_allow", "boolean", "false")
	msg := xmlstream.NewElement(stanza.NSClient, stanza.Message, "from", rm.jid.String(), "id", stanza.NewID()).AddChild(f.x)
	for _, m := range rm.occupants {
		if m.role == Moderator {
			s.deliver(m, msg)
		}
	}
}

// approveVoice applies a moderator's answer v to a voice request: with
// muc#request_allow true, the visitor it names becomes a participant.
func (s *Service) approveVoice(ctx context.Context, rm *room, mod *occupant, st *xmlstream.Element, v map[string]string) {
	allow, ok := dataform.ParseBool(v["muc#request_allow"])
	if !ok {
		s.reply(ctx, st, stanza.BadRequest, "muc#request_allow must be a boolean")
		return
	}
	target := rm.occupants[v["muc#roomnick"]]
	if j, err := jid.Parse(v["muc#jid"]); target == nil || (v["muc#jid"] != "" && (err != nil || !j.Bare().Equal(target.bare))) {
		s.reply(ctx, st, stanza.ItemNotFound, "the visitor is no longer in the room")
		return
	}
	if !allow || target.role != Visitor {
		return
	}
	s.roleChanged(rm, target, Participant, []string{"actor", mod.nick}, nil)
}
