package component

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/stanza"
	"xmppd/xmlstream"
)

// privilegedIQTimeout bounds the wait for the answer to an IQ a
// component sent in an account's name, and maxPrivilegedIQs how many of a
// component's may wait at once.
const (
	privilegedIQTimeout = 30 * time.Second
	maxPrivilegedIQs    = 100
)

// registerPrivilegedIQ has the router hand privileged IQs to s.
func (s *Server) registerPrivilegedIQ() {
	for _, typ := range []string{"get", "set"} {
		s.router.HandleIQ(router.ToAccount, typ, NSPrivilege, "privileged_iq", s.privilegedIQ)
	}
}

// privilegedIQ handles an IQ a component sends in the name of an account
// (XEP-0356's iq privilege): addressed to the account, it holds, in
// <privileged_iq/>, the IQ of the same type from the account's bare JID.
// That IQ goes on as if the account sent it, if the component may send
// its type and namespace; its answer comes back to the component,
// forwarded inside <privilege/> when it is a result, and as the error
// itself otherwise.
func (s *Server) privilegedIQ(ctx context.Context, iq router.IQ) *xmlstream.Element {
	l := s.links[iq.From.Domainpart()]
	if l == nil || iq.From.Localpart() != "" || iq.From.Resourcepart() != "" {
		return iq.Error(stanza.Forbidden, "only a component with the iq privilege may send privileged IQs")
	}
	var inner *xmlstream.Element
	for _, c := range iq.Payload.ChildElements() {
		if inner != nil || c.Name.Space != stanza.NSClient || c.Name.Local != stanza.IQ {
			return iq.Error(stanza.BadRequest, "<privileged_iq/> holds one IQ")
		}
		inner = c
	}
	if inner == nil || len(inner.ChildElements()) != 1 || inner.Attr("type") != iq.Type || inner.Attr("id") == "" {
		return iq.Error(stanza.BadRequest, "<privileged_iq/> holds one IQ of the same type, with an id and one payload")
	}
	from, err := jid.Parse(inner.Attr("from"))
	if err != nil || !from.Equal(iq.To) {
		return iq.Error(stanza.Forbidden, "the privileged IQ must be from the account it is addressed to")
	}
	if ns := inner.FirstChildElement().Name.Space; !s.cfg.Privileges[l.domain].allowsIQ(iq.Type, ns) {
		return iq.Error(stanza.Forbidden, "this component may not send IQs "+iq.Type+" of "+ns+" for accounts")
	}
	to := from
	if inner.Attr("to") != "" {
		if to, err = jid.Parse(inner.Attr("to")); err != nil {
			return iq.Error(stanza.JIDMalformed, "the privileged IQ's 'to' is not a JID")
		}
	}
	select {
	case l.privilegedIQs <- struct{}{}:
	default:
		return iq.Error(stanza.ResourceConstraint, "too many privileged IQs of this component wait for their answers")
	}
	inner = inner.Copy()
	inner.SetAttr("to", to.String())
	s.log.Debug("component: privileged iq", "domain", iq.From.Domainpart(), "from", from.String(), "to", to.String())
	go func() {
		defer func() { <-l.privilegedIQs }()
		s.answerPrivilegedIQ(iq, inner)
	}()
	return nil
}

// answerPrivilegedIQ sends inner, waits for its answer and answers iq,
// the privileged IQ that held it, with it. It runs on its own: the answer
// may come from anywhere, even down the component's own stream.
func (s *Server) answerPrivilegedIQ(iq router.IQ, inner *xmlstream.Element) {
	ctx, cancel := context.WithTimeout(context.Background(), privilegedIQTimeout)
	defer cancel()
	var reply *xmlstream.Element
	answer, err := s.router.Exchange(ctx, inner)
	switch {
	case err != nil:
		reply = iq.Error(stanza.RemoteServerTimeout, "no answer to the privileged IQ came in time")
	case stanza.IsError(answer):
		reply = iq.Result(nil)
		reply.SetAttr("type", "error")
		if e := answer.Child("", "error"); e != nil {
			reply.AddChild(e.Copy())
		}
	default:
		answer.SetAttr("id", inner.Attr("id"))
		reply = iq.Result(xmlstream.NewElement(NSPrivilege, "privilege").
			AddChild(xmlstream.NewElement(nsForward, "forwarded").AddChild(answer)))
	}
	s.router.Route(context.Background(), reply)
}
