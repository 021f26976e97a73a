package pep_test

import (
	"slices"
	"strings"
	"testing"

	"xmppd/dataform"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// groupsField is a pubsub#roster_groups_allowed field with groups.
func groupsField(groups ...string) string {
	f := "<field var='pubsub#roster_groups_allowed'>"
	for _, g := range groups {
		f += "<value>" + g + "</value>"
	}
	return f + "</field>"
}

// setGroup puts contact in owner's roster group group.
func setGroup(t *testing.T, owner *xmpptest.Client, contact, group string) {
	t.Helper()
	ok(t, owner.IQ("set", "", "<query xmlns='jabber:iq:roster'><item jid='"+contact+"'><group>"+group+"</group></item></query>"))
}

// watcher logs user in as resource with capabilities asking for the
// notifications of nodes, answers the server's question about them, and
// returns the client.
func watcher(t *testing.T, s *xmpptest.Server, user, resource string, nodes ...string) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Login(t, s, user, "secret", resource)
	features := []string{"http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "urn:example:client:" + user}
	for _, n := range nodes {
		features = append(features, n+"+notify")
	}
	presence, info := xmpptest.CapsPresence(features...)
	c.Send(presence)
	xmpptest.AnswerDisco(t, c, info)
	return c
}

// eventsUntil reads c's PEP events from juliet up to and including the
// first one about node, and returns the nodes they were about.
func eventsUntil(t *testing.T, c *xmpptest.Client, node string) []string {
	t.Helper()
	var nodes []string
	for {
		its := expectEvent(t, c)
		nodes = append(nodes, its.Attr("node"))
		if its.Attr("node") == node {
			return nodes
		}
	}
}

// TestRosterAccessModel: a node of the roster access model (XEP-0060
// §4.5, which XEP-0163 §5 makes a PEP service support) is read, and
// notified, only by the owner's contacts that are subscribed to its
// presence and in one of the node's pubsub#roster_groups_allowed
// groups; its configuration form offers the owner's groups.
func TestRosterAccessModel(t *testing.T) {
	s := start(t)
	juliet := online(t, s, "juliet", "balcony")
	romeo := online(t, s, "romeo", "orchard")
	nurse := online(t, s, "nurse", "chamber")
	subscribe(t, romeo, juliet)
	subscribe(t, nurse, juliet)
	setGroup(t, juliet, "romeo@localhost", "Friends")
	setGroup(t, juliet, "nurse@localhost", "Servants")

	const public = "urn:example:public"
	friendsOnly := field("pubsub#access_model", "roster") + groupsField("Friends")
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), friendsOnly)))
	ok(t, juliet.IQ("set", "", publish(public, "1", "<x xmlns='"+public+"'/>", "")))

	ok(t, romeo.IQ("get", "juliet@localhost", items(mood, "")))
	refused(t, nurse.IQ("get", "juliet@localhost", items(mood, "")), "not-authorized", "not-in-roster-group")

	// The form offers the model and the owner's groups.
	x := configureGet(t, juliet, mood)
	form := dataform.Parse(x)
	if f, _ := form.Field("pubsub#access_model"); !slices.Contains(optionValues(x, f.Var), "roster") || len(f.Values) != 1 || f.Values[0] != "roster" {
		t.Fatalf("pubsub#access_model is %+v, want roster, offered", f)
	}
	f, _ := form.Field("pubsub#roster_groups_allowed")
	if f.Type != "list-multi" || strings.Join(optionValues(x, f.Var), " ") != "Friends Servants" || strings.Join(f.Values, " ") != "Friends" {
		t.Fatalf("pubsub#roster_groups_allowed is %+v, offering %v, want Friends of the list-multi Friends Servants", f, optionValues(x, f.Var))
	}

	// Publish options are preconditions on the groups too.
	ok(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), friendsOnly)))
	refused(t, juliet.IQ("set", "", publish(mood, "1", moodPayload("happy"), field("pubsub#access_model", "roster")+groupsField("Servants"))), "conflict", "precondition-not-met")

	// The last item goes to the allowed contact only: the nurse gets the
	// public node's, which comes after (the nodes' order), and not the mood.
	romeo2 := watcher(t, s, "romeo", "tower", mood, public)
	nurse2 := watcher(t, s, "nurse", "kitchen", mood, public)
	if got := eventsUntil(t, romeo2, public); !slices.Contains(got, mood) {
		t.Fatalf("romeo's last items were of %v, want the mood too", got)
	}
	if got := eventsUntil(t, nurse2, public); slices.Contains(got, mood) {
		t.Fatalf("the nurse got the last items of %v, want no mood", got)
	}

	// So do the notifications.
	ok(t, juliet.IQ("set", "", publish(mood, "2", moodPayload("sad"), "")))
	ok(t, juliet.IQ("set", "", publish(public, "2", "<x xmlns='"+public+"'/>", "")))
	if got := eventsUntil(t, romeo2, public); !slices.Equal(got, []string{mood, public}) {
		t.Fatalf("romeo was notified of %v, want the mood and the public node", got)
	}
	if got := eventsUntil(t, nurse2, public); !slices.Equal(got, []string{public}) {
		t.Fatalf("the nurse was notified of %v, want the public node only", got)
	}

	// A contact of the group without a subscription to the owner's
	// presence may not read.
	ok(t, juliet.IQ("set", "", "<query xmlns='jabber:iq:roster'><item jid='juliet2@localhost'><group>Friends</group></item></query>"))
	s.AddUser(t, "juliet2", xmpptest.Domain, "secret")
	other := online(t, s, "juliet2", "x")
	refused(t, other.IQ("get", "juliet@localhost", items(mood, "")), "not-authorized", "")
}

// optionValues returns the values that the list field name of the form
// x offers.
func optionValues(x *xmlstream.Element, name string) []string {
	var vs []string
	for _, f := range x.ChildElements() {
		if f.Attr("var") != name {
			continue
		}
		for _, o := range f.ChildElements() {
			if o.Name.Local == "option" {
				vs = append(vs, o.Child("jabber:x:data", "value").Text())
			}
		}
	}
	return vs
}
