package pep_test

import (
	"strings"
	"testing"

	"xmppd/xmlstream"
)

func subscribeTo(node, j string) string {
	return "<pubsub xmlns='" + nsPubsub + "'><subscribe node='" + node + "' jid='" + j + "'/></pubsub>"
}

func unsubscribeFrom(node, j string) string {
	return "<pubsub xmlns='" + nsPubsub + "'><unsubscribe node='" + node + "' jid='" + j + "'/></pubsub>"
}

// subscriptionsOf returns the node and jid of each subscription in a
// retrieve-subscriptions result.
func subscriptionsOf(t *testing.T, res *xmlstream.Element) []string {
	t.Helper()
	var subs []string
	for _, s := range res.Child(nsPubsub, "pubsub").Child(nsPubsub, "subscriptions").ChildElements() {
		subs = append(subs, s.Attr("node")+" "+s.Attr("jid")+" "+s.Attr("subscription"))
	}
	return subs
}

// TestExplicitSubscriptions: XEP-0163 §5 makes a PEP service support
// the subscribe and unsubscribe use cases of XEP-0060 (§6.1, §6.2):
// an entity the node's access model lets read it subscribes its own
// JID, gets the last item and the notifications once each, and no more
// after it unsubscribes or once the node's access model excludes it.
func TestExplicitSubscriptions(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo := online(t, s, "romeo", "orchard")
	const open = "urn:example:open"
	ok(t, juliet.IQ("set", "", publish(open, "1", "<x xmlns='"+open+"'/>", field("pubsub#access_model", "open"))))
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), "")))

	refused(t, romeo.IQ("set", "juliet@localhost", subscribeTo(mood, romeo.JID)), "not-authorized", "presence-subscription-required")
	refused(t, romeo.IQ("set", "juliet@localhost", subscribeTo(open, "juliet@localhost")), "bad-request", "invalid-jid")
	refused(t, romeo.IQ("set", "juliet@localhost", subscribeTo("urn:example:none", romeo.JID)), "item-not-found", "")

	res := ok(t, romeo.IQ("set", "juliet@localhost", subscribeTo(open, romeo.JID)))
	if sub := res.Child(nsPubsub, "pubsub").Child(nsPubsub, "subscription"); sub == nil || sub.Attr("subscription") != "subscribed" || sub.Attr("jid") != romeo.JID {
		t.Fatalf("got %s, want the subscription", res)
	}
	if its := expectEvent(t, romeo); its.Attr("node") != open {
		t.Fatalf("got %s, want the last item of %s", its, open)
	}
	ok(t, romeo.IQ("set", "juliet@localhost", subscribeTo(open, "romeo@localhost")))
	expectEvent(t, romeo)
	if got := strings.Join(subscriptionsOf(t, ok(t, romeo.IQ("get", "juliet@localhost", "<pubsub xmlns='"+nsPubsub+"'><subscriptions/></pubsub>"))), ","); got != open+" romeo@localhost subscribed,"+open+" "+romeo.JID+" subscribed" {
		t.Fatalf("romeo's subscriptions are %q", got)
	}

	// Subscribed twice, romeo's session is notified once.
	ok(t, juliet.IQ("set", "", publish(open, "2", "<x xmlns='"+open+"'/>", "")))
	if got := eventsUntilBarrier(t, romeo); len(got) != 1 || got[0].Attr("node") != open {
		t.Fatalf("romeo got %v, want one notification", got)
	}

	ok(t, romeo.IQ("set", "juliet@localhost", unsubscribeFrom(open, "romeo@localhost")))
	refused(t, romeo.IQ("set", "juliet@localhost", unsubscribeFrom(open, "romeo@localhost")), "unexpected-request", "not-subscribed")
	refused(t, romeo.IQ("set", "juliet@localhost", unsubscribeFrom(open, "juliet@localhost")), "forbidden", "")

	// An access model that excludes romeo ends his subscription.
	ok(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+open+"'>"+
		"<x xmlns='jabber:x:data' type='submit'>"+field("pubsub#access_model", "presence")+"</x></configure></pubsub>"))
	if got := subscriptionsOf(t, ok(t, romeo.IQ("get", "juliet@localhost", "<pubsub xmlns='"+nsPubsub+"'><subscriptions/></pubsub>"))); len(got) != 0 {
		t.Fatalf("romeo's subscriptions are %v after the node closed, want none", got)
	}
	ok(t, juliet.IQ("set", "", publish(open, "3", "<x xmlns='"+open+"'/>", "")))
	if got := eventsUntilBarrier(t, romeo); len(got) != 0 {
		t.Fatalf("romeo got %v, want nothing", got)
	}
}
