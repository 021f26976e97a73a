package roster_test

import (
	"context"
	"testing"

	"xmppd/internal/xmpptest"
)

// The handshake of RFC 6121 §3.1 both ways, then presence flows both ways
// and ends when a connection drops.
func TestSubscriptionHandshakeAndPresence(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	subscribe(t, juliet, romeo)

	juliet.Send("<presence><show>away</show></presence>")
	expectPresence(juliet, juliet.JID, "")
	expectPresence(romeo, juliet.JID, "")

	// A new resource of romeo's probes juliet and gets her presence.
	phone := xmpptest.Login(t, s, "romeo", "secret", "phone")
	getRoster(phone, "")
	phone.Online()
	expectPresence(phone, "romeo@localhost/orchard", "")
	p := expectPresence(phone, juliet.JID, "")
	if p.Child("jabber:client", "show").Text() != "away" {
		t.Fatalf("probe answer %s lacks juliet's show", p)
	}
	expectPresence(juliet, phone.JID, "")
	expectPresence(romeo, phone.JID, "")

	// The connection just drops: juliet hears the resource went away.
	phone.Conn.Close()
	expectPresence(juliet, phone.JID, "unavailable")
	expectPresence(romeo, phone.JID, "unavailable")
	expectNothing(juliet)
}

// Presence never goes to accounts without a subscription.
func TestNoPresenceWithoutSubscription(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	juliet.Send("<presence to='romeo@localhost' type='subscribe'/>")
	expectPush(juliet, "romeo@localhost", "none", "subscribe")
	expectPresence(romeo, "juliet@localhost", "subscribe")
	// Romeo has not approved: juliet's presence is not his business...
	juliet.Send("<presence><status>hi</status></presence>")
	expectPresence(juliet, juliet.JID, "")
	expectNothing(romeo)
	// ...and romeo's is not hers.
	romeo.Send("<presence><status>hi</status></presence>")
	expectPresence(romeo, romeo.JID, "")
	expectNothing(juliet)
	// A probe from a client is ignored.
	juliet.Send("<presence to='romeo@localhost' type='probe'/>")
	expectNothing(juliet)
	expectNothing(romeo)
}

// Cancelling and unsubscribing (RFC 6121 §3.2, §3.3) and removing an item
// (§2.5).
func TestCancelUnsubscribeRemove(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	subscribe(t, juliet, romeo)

	// Juliet cancels romeo's subscription to her: he gets unavailable first.
	juliet.Send("<presence to='romeo@localhost' type='unsubscribed'/>")
	expectPush(juliet, "romeo@localhost", "to", "")
	expectPresence(romeo, juliet.JID, "unavailable")
	expectPresence(romeo, "juliet@localhost", "unsubscribed")
	expectPush(romeo, "juliet@localhost", "from", "")
	// Again: no state change, nothing routed.
	juliet.Send("<presence to='romeo@localhost' type='unsubscribed'/>")
	expectNothing(juliet)
	expectNothing(romeo)

	// Juliet unsubscribes from romeo: romeo loses 'from' and she gets his unavailable.
	juliet.Send("<presence to='romeo@localhost' type='unsubscribe'/>")
	expectPush(juliet, "romeo@localhost", "none", "")
	expectPresence(romeo, "juliet@localhost", "unsubscribe")
	expectPush(romeo, "juliet@localhost", "none", "")
	expectPresence(juliet, romeo.JID, "unavailable")
	expectNothing(juliet)
	expectNothing(romeo)

	// Removing the item: a push with subscription='remove'.
	juliet.Send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='romeo@localhost' subscription='remove'/></query></iq>")
	expectPush(juliet, "romeo@localhost", "remove", "")
	if res := juliet.NextNamed("iq"); res.Attr("type") != "result" {
		t.Fatalf("remove: %s", res)
	}
	juliet.Send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='romeo@localhost' subscription='remove'/></query></iq>")
	xmpptest.ExpectError(t, juliet.NextNamed("iq"), "item-not-found")
}

// Removing an item with a subscription both ways tells the contact
// (RFC 6121 §2.5.2).
func TestRemoveBoth(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	subscribe(t, juliet, romeo)
	juliet.Send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='romeo@localhost' subscription='remove'/></query></iq>")
	expectPush(juliet, "romeo@localhost", "remove", "")
	// Romeo's server sends his unavailable when juliet's unsubscribe
	// ends her subscription to him, before her roster set is answered.
	expectPresence(juliet, romeo.JID, "unavailable")
	if res := juliet.NextNamed("iq"); res.Attr("type") != "result" {
		t.Fatalf("remove: %s", res)
	}
	expectPresence(romeo, juliet.JID, "unavailable")
	expectPresence(romeo, "juliet@localhost", "unsubscribed")
	expectPush(romeo, "juliet@localhost", "from", "")
	expectPresence(romeo, "juliet@localhost", "unsubscribe")
	expectPush(romeo, "juliet@localhost", "none", "")
	expectNothing(juliet)
	expectNothing(romeo)
}

// A request to an offline account waits in the database and comes with
// the next initial presence (RFC 6121 §3.1.3); pre-approval (§3.4).
func TestPendingRequestAndPreApproval(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	juliet.Send("<presence to='romeo@localhost' type='subscribe'><status>it is I</status></presence>")
	expectPush(juliet, "romeo@localhost", "none", "subscribe")
	// The push comes before the request is routed to romeo; the answer
	// to juliet's next stanza comes after. Romeo logging in between gets
	// the request twice (a window left open, see the note).
	juliet.Ping()

	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	getRoster(romeo, "")
	romeo.Online()
	req := expectPresence(romeo, "juliet@localhost", "subscribe")
	if req.Child("jabber:client", "status").Text() != "it is I" {
		t.Fatalf("stored request lost its status: %s", req)
	}
	expectNothing(romeo)

	// Nurse pre-approves romeo; his request is then approved by the server.
	nurse, _ := online(t, s, "nurse", "kitchen")
	nurse.Send("<presence to='romeo@localhost' type='subscribed'/>")
	it := expectPush(nurse, "romeo@localhost", "none", "")
	if it.Attr("approved") != "true" {
		t.Fatalf("pre-approval push %s lacks approved='true'", it)
	}
	expectNothing(romeo)
	romeo.Send("<presence to='nurse@localhost' type='subscribe'/>")
	expectPush(romeo, "nurse@localhost", "none", "subscribe")
	expectPush(nurse, "romeo@localhost", "from", "")
	expectPresence(romeo, "nurse@localhost", "subscribed")
	expectPush(romeo, "nurse@localhost", "to", "")
	expectPresence(romeo, nurse.JID, "")
	expectNothing(nurse)
}

// Subscribing to oneself is refused (the account has its own presence).
func TestSelfSubscription(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	for _, typ := range []string{"subscribe", "subscribed", "unsubscribe", "unsubscribed"} {
		juliet.Send("<presence to='juliet@localhost' type='" + typ + "' id='self'/>")
		xmpptest.ExpectError(t, juliet.NextNamed("presence"), "not-allowed")
	}
	if q := getRoster(juliet, ""); len(q.ChildElements()) != 0 {
		t.Fatalf("roster after self-subscription: %s", q)
	}
}

// A subscription request to an account that does not exist is refused.
func TestSubscribeNoSuchAccount(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	juliet.Send("<presence to='tybalt@localhost' type='subscribe'/>")
	expectPush(juliet, "tybalt@localhost", "none", "subscribe")
	expectPresence(juliet, "tybalt@localhost", "unsubscribed")
	expectPush(juliet, "tybalt@localhost", "none", "")
}

// An account approved with no resource available — here by its
// pre-approval — still tells the new subscriber that it is offline:
// its last unavailable presence, as a probe would get (RFC 6121 §3.1.5,
// §4.3.2).
func TestApprovalWhileOffline(t *testing.T) {
	s := start(t)
	romeo, _ := online(t, s, "romeo", "orchard")
	romeo.Send("<presence to='juliet@localhost' type='subscribed'/>")
	expectPush(romeo, "juliet@localhost", "none", "")
	romeo.Send("<presence type='unavailable'><status>banished</status></presence>")
	expectPresence(romeo, romeo.JID, "unavailable")
	romeo.Ping() // the last presence is stored
	romeo.Conn.Close()

	juliet, _ := online(t, s, "juliet", "balcony")
	juliet.Send("<presence to='romeo@localhost' type='subscribe'/>")
	expectPush(juliet, "romeo@localhost", "none", "subscribe")
	expectPresence(juliet, "romeo@localhost", "subscribed")
	expectPush(juliet, "romeo@localhost", "to", "")
	p := expectPresence(juliet, "romeo@localhost", "unavailable")
	if st := p.Child("jabber:client", "status"); st == nil || st.Text() != "banished" {
		t.Fatalf("got %s, want romeo's last presence", p)
	}
	expectNothing(juliet)
}

// An answer to a subscription — 'subscribed', 'unsubscribed',
// 'unsubscribe' — reaches every interested resource, also one that sent
// no presence, and before the roster push it causes (RFC 6121 §3.1.6,
// §3.2.3, §3.3.3).
func TestInboundAnswerBeforePush(t *testing.T) {
	s := start(t)
	juliet, _ := online(t, s, "juliet", "balcony")
	romeo, _ := online(t, s, "romeo", "orchard")
	subscribe(t, juliet, romeo)
	tablet := xmpptest.Login(t, s, "juliet", "secret", "tablet")
	getRoster(tablet, "") // interested, never available

	romeo.Send("<presence to='juliet@localhost' type='unsubscribe'/>")
	expectPresence(tablet, "romeo@localhost", "unsubscribe")
	expectPush(tablet, "romeo@localhost", "to", "")

	romeo.Send("<presence to='juliet@localhost' type='unsubscribed'/>")
	expectPresence(tablet, "romeo@localhost", "unsubscribed")
	expectPush(tablet, "romeo@localhost", "none", "")

	juliet.Send("<presence to='romeo@localhost' type='subscribe'/>")
	expectPush(tablet, "romeo@localhost", "none", "subscribe")
	received(juliet) // her request is stored for romeo
	romeo.Send("<presence to='juliet@localhost' type='subscribed'/>")
	expectPresence(tablet, "romeo@localhost", "subscribed")
	expectPush(tablet, "romeo@localhost", "to", "")
	expectNothing(tablet)
}

// A subscription request that a roster could not record is neither sent
// nor taken as sent: its sender gets internal-server-error, whether the
// sender's roster failed (juliet's push never comes) or the recipient's
// (juliet's ask is recorded, romeo's request is not) (RFC 6120 §8.3.3.8).
func TestSubscriptionStoreFailure(t *testing.T) {
	for _, c := range []struct {
		name, refused string // the trigger, on a table, that makes the store fail
		push          bool   // juliet's roster recorded her request
		errorFrom     string
	}{
		{"sender's roster", "INSERT OR UPDATE ON roster_items", false, "juliet@localhost"},
		{"recipient's requests", "INSERT ON roster_pending_in", true, "romeo@localhost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := start(t)
			juliet, _ := online(t, s, "juliet", "balcony")
			romeo, _ := online(t, s, "romeo", "orchard")
			if _, err := s.DB.Exec(context.Background(), `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN RAISE EXCEPTION 'refused'; END $$;
				CREATE TRIGGER refuse BEFORE `+c.refused+` FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
				t.Fatal(err)
			}
			juliet.Send("<presence to='romeo@localhost' type='subscribe' id='sub'/>")
			if c.push {
				expectPush(juliet, "romeo@localhost", "none", "subscribe")
			}
			got := received(juliet)
			if len(got) != 1 || got[0].Attr("id") != "sub" || got[0].Attr("from") != c.errorFrom {
				t.Fatalf("juliet got %v, want the error of her request from %s", got, c.errorFrom)
			}
			xmpptest.ExpectError(t, got[0], "internal-server-error")
			expectNothing(romeo)
		})
	}
}
