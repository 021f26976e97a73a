package pep_test

import (
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
)

// TestTransientNode: a node whose pubsub#persist_items is false keeps
// no items (XEP-0060 §4.3, §7.1.2): a publish notifies the subscribers
// as it happens, but retrieving the items gives none and a session that
// comes online gets no last item. Configuring a node so drops the items
// it kept.
func TestTransientNode(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo, presence := moodWatcher(t, s)
	subscribe(t, romeo, juliet)

	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), field("pubsub#persist_items", "false"))))
	if evs := eventsUntilBarrier(t, romeo); len(evs) != 1 || !strings.Contains(evs[0].String(), "<happy") {
		t.Fatalf("romeo got the events %v, want the notification of the publish", evs)
	}
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(mood, "")))); len(ids) != 0 {
		t.Fatalf("the transient node keeps the items %v, want none", ids)
	}
	romeo2 := xmpptest.Login(t, s, "romeo", "secret", "tower")
	romeo2.Send(presence)
	if evs := eventsUntilBarrier(t, romeo2); len(evs) != 0 {
		t.Fatalf("a new session got the events %v, want no last item of a transient node", evs)
	}

	const list = "urn:example:list"
	ok(t, juliet.IQ("set", "", publish(list, "1", "<x xmlns='"+list+"'/>", "")))
	ok(t, juliet.IQ("set", "", "<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='"+list+"'>"+
		"<x xmlns='jabber:x:data' type='submit'>"+field("pubsub#persist_items", "false")+"</x></configure></pubsub>"))
	if ids := itemIDs(t, ok(t, juliet.IQ("get", "", items(list, "")))); len(ids) != 0 {
		t.Fatalf("the node made transient keeps the items %v, want none", ids)
	}
}
