package roster

import "testing"

// state builds a State from the notation of RFC 6121 Appendix A.1.
func state(name string) State {
	st := State{InRoster: true}
	switch name {
	case "None":
		st.Item.Subscription = None
	case "None+PendingOut":
		st.Item.Subscription, st.Item.Ask = None, true
	case "None+PendingIn":
		st.Item.Subscription, st.PendingIn = None, "req"
	case "None+PendingOut+In":
		st.Item.Subscription, st.Item.Ask, st.PendingIn = None, true, "req"
	case "To":
		st.Item.Subscription = To
	case "To+PendingIn":
		st.Item.Subscription, st.PendingIn = To, "req"
	case "From":
		st.Item.Subscription = From
	case "From+PendingOut":
		st.Item.Subscription, st.Item.Ask = From, true
	case "Both":
		st.Item.Subscription = Both
	default:
		panic(name)
	}
	return st
}

func name(st State) string {
	n := map[Subscription]string{None: "None", To: "To", From: "From", Both: "Both"}[st.Item.Subscription]
	switch {
	case st.Item.Ask && st.PendingIn != "":
		n += "+PendingOut+In"
	case st.Item.Ask:
		n += "+PendingOut"
	case st.PendingIn != "":
		n += "+PendingIn"
	}
	return n
}

var states = []string{"None", "None+PendingOut", "None+PendingIn", "None+PendingOut+In", "To", "To+PendingIn", "From", "From+PendingOut", "Both"}

// TestOutboundTransitions checks RFC 6121 Appendix A.2, every state and
// every type a user can send.
func TestOutboundTransitions(t *testing.T) {
	// want[type][i] is the next state of states[i]; a trailing "!" means
	// the stanza is routed to the contact.
	want := map[string][]string{
		"subscribe":    {"None+PendingOut!", "None+PendingOut!", "None+PendingOut+In!", "None+PendingOut+In!", "To!", "To+PendingIn!", "From+PendingOut!", "From+PendingOut!", "Both!"},
		"unsubscribe":  {"None!", "None!", "None+PendingIn!", "None+PendingIn!", "None!", "None+PendingIn!", "From!", "From!", "From!"},
		"subscribed":   {"None", "None+PendingOut", "From!", "From+PendingOut!", "To", "Both!", "From", "From+PendingOut", "Both"},
		"unsubscribed": {"None", "None+PendingOut", "None!", "None+PendingOut!", "To", "To!", "None!", "None+PendingOut!", "To!"},
	}
	for typ, nexts := range want {
		for i, from := range states {
			next, route := outbound(typ, state(from))
			got := name(next)
			if route {
				got += "!"
			}
			if got != nexts[i] {
				t.Errorf("outbound %s in %s: got %s, want %s", typ, from, got, nexts[i])
			}
		}
	}
}

// TestInboundTransitions checks RFC 6121 Appendix A.3; "!" means the
// stanza is delivered to the user, "+" that the server approves for the
// user.
func TestInboundTransitions(t *testing.T) {
	want := map[string][]string{
		"subscribe":    {"None+PendingIn!", "None+PendingOut+In!", "None+PendingIn", "None+PendingOut+In", "To+PendingIn!", "To+PendingIn", "From+", "From+PendingOut+", "Both+"},
		"unsubscribe":  {"None", "None+PendingOut", "None!", "None+PendingOut!", "To", "To!", "None!", "None+PendingOut!", "To!"},
		"subscribed":   {"None", "To!", "None+PendingIn", "To+PendingIn!", "To", "To+PendingIn", "From", "Both!", "Both"},
		"unsubscribed": {"None", "None!", "None+PendingIn", "None+PendingIn!", "None!", "None+PendingIn!", "From", "From!", "From!"},
	}
	for typ, nexts := range want {
		for i, from := range states {
			next, res := inbound(typ, state(from), "req")
			got := name(next)
			if res.deliver {
				got += "!"
			}
			if res.approve {
				got += "+"
			}
			if got != nexts[i] {
				t.Errorf("inbound %s in %s: got %s, want %s", typ, from, got, nexts[i])
			}
		}
	}
}

// TestPreApproval checks RFC 6121 §3.4: 'subscribed' without a request
// pre-approves, and the next request is approved by the server.
func TestPreApproval(t *testing.T) {
	next, route := outbound("subscribed", State{})
	if route || !next.InRoster || !next.Item.Approved || next.Item.Subscription != None {
		t.Fatalf("pre-approval: got %+v, route %v", next, route)
	}
	next, res := inbound("subscribe", next, "req")
	if !res.approve || res.deliver || next.Item.Subscription != From || next.Item.Approved || next.PendingIn != "" {
		t.Fatalf("request after pre-approval: got %+v, %+v", next, res)
	}
	// 'unsubscribed' withdraws a pre-approval without telling anyone.
	pre, _ := outbound("subscribed", State{})
	next, route = outbound("unsubscribed", pre)
	if route || next.Item.Approved {
		t.Fatalf("withdrawn pre-approval: got %+v, route %v", next, route)
	}
}
