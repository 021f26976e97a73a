package avatar_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nsPubsub   = "http://jabber.org/protocol/pubsub"
	nsMetadata = "urn:xmpp:avatar:metadata"
	nsData     = "urn:xmpp:avatar:data"
	nsUpdate   = "vcard-temp:x:update"
	nsVCard    = "vcard-temp"
)

// image is a made-up image and its XEP-0084 id.
func image(content string) (b64, id string) {
	sum := sha1.Sum([]byte(content))
	return base64.StdEncoding.EncodeToString([]byte(content)), hex.EncodeToString(sum[:])
}

func ok(t *testing.T, el *xmlstream.Element) *xmlstream.Element {
	t.Helper()
	if el.Attr("type") != "result" {
		t.Fatalf("got %s, want a result", el)
	}
	return el
}

func publish(node, id, payload string) string {
	return "<pubsub xmlns='" + nsPubsub + "'><publish node='" + node + "'><item id='" + id + "'>" + payload + "</item></publish></pubsub>"
}

// photo returns the BINVAL and TYPE of user's vCard as romeo reads it.
func photo(t *testing.T, reader *xmpptest.Client, user string) (binval, typ string) {
	t.Helper()
	card := ok(t, reader.IQ("get", user+"@"+xmpptest.Domain, "<vCard xmlns='"+nsVCard+"'/>")).Child(nsVCard, "vCard")
	p := card.Child(nsVCard, "PHOTO")
	if p == nil {
		return "", ""
	}
	return p.Child(nsVCard, "BINVAL").Text(), p.Child(nsVCard, "TYPE").Text()
}

// presenceHash sends presence from c to romeo and returns the photo hash
// romeo sees in it ("none" without an update element).
func presenceHash(t *testing.T, c, romeo *xmpptest.Client, extra string) string {
	t.Helper()
	c.Send("<presence to='" + romeo.JID + "'>" + extra + "</presence>")
	p := romeo.ExpectPresenceFrom(c.JID)
	x := p.Child(nsUpdate, "x")
	if x == nil {
		return "none"
	}
	if len(p.ChildElements()) != 1 {
		t.Errorf("presence %s has more than the one update element", p)
	}
	if ph := x.Child(nsUpdate, "photo"); ph != nil {
		return ph.Text()
	}
	return "no photo"
}

func start(t *testing.T) (s *xmpptest.Server, juliet, romeo *xmpptest.Client) {
	s = xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	return s, xmpptest.Login(t, s, "juliet", "secret", "balcony"), xmpptest.Login(t, s, "romeo", "secret", "orchard")
}

func TestFeature(t *testing.T) {
	_, juliet, _ := start(t)
	res := ok(t, juliet.IQ("get", "", "<query xmlns='http://jabber.org/protocol/disco#info'/>"))
	for _, f := range res.Child("http://jabber.org/protocol/disco#info", "query").ChildElements() {
		if f.Attr("var") == "urn:xmpp:pep-vcard-conversion:0" {
			return
		}
	}
	t.Fatalf("got %s, want the conversion feature", res)
}

// TestPEPToVCard publishes XEP-0084 avatars and checks the vCard and the
// hash in presence.
func TestPEPToVCard(t *testing.T) {
	s, juliet, romeo := start(t)
	if h := presenceHash(t, juliet, romeo, ""); h != "none" {
		t.Fatalf("hash %q before any avatar", h)
	}
	// An update element without a photo gets an empty one: there is none.
	if h := presenceHash(t, juliet, romeo, "<x xmlns='"+nsUpdate+"'/>"); h != "" {
		t.Fatalf("hash %q, want an empty photo", h)
	}

	data, id := image("a rose")
	ok(t, juliet.IQ("set", "", publish(nsData, id, "<data xmlns='"+nsData+"'>"+data+"</data>")))
	// The info with a url is passed over for the one the data node has.
	ok(t, juliet.IQ("set", "", publish(nsMetadata, id, "<metadata xmlns='"+nsMetadata+"'>"+
		"<info id='elsewhere' type='image/gif' bytes='9' url='https://example.org/a.gif'/>"+
		"<info id='"+id+"' type='image/png' bytes='6'/></metadata>")))
	if binval, typ := photo(t, romeo, "juliet"); binval != data || typ != "image/png" {
		t.Fatalf("vCard photo %q of type %q, want the avatar", binval, typ)
	}
	if h := presenceHash(t, juliet, romeo, ""); h != id {
		t.Fatalf("presence hash %q, want %s", h, id)
	}
	// An empty update element is filled; a photo the client gives, empty
	// or not, is left alone.
	if h := presenceHash(t, juliet, romeo, "<x xmlns='"+nsUpdate+"'/>"); h != id {
		t.Fatalf("presence hash %q, want %s", h, id)
	}
	if h := presenceHash(t, juliet, romeo, "<x xmlns='"+nsUpdate+"'><photo/></x>"); h != "" {
		t.Fatalf("presence hash %q, want the client's empty photo", h)
	}
	// Broadcast presence carries it too: juliet's other resource sees it.
	juliet2 := xmpptest.Login(t, s, "juliet", "secret", "tomb")
	juliet2.Online()
	juliet.Send("<presence/>")
	if p := juliet2.ExpectPresenceFrom(juliet.JID); p.Child(nsUpdate, "x").Child(nsUpdate, "photo").Text() != id {
		t.Fatalf("broadcast %s, want the hash", p)
	}

	// Metadata naming data that is not its image changes nothing.
	other, _ := image("a thorn")
	ok(t, juliet.IQ("set", "", publish(nsData, "0000", "<data xmlns='"+nsData+"'>"+other+"</data>")))
	ok(t, juliet.IQ("set", "", publish(nsMetadata, "0000", "<metadata xmlns='"+nsMetadata+"'><info id='0000' type='image/png' bytes='6'/></metadata>")))
	if binval, _ := photo(t, romeo, "juliet"); binval != data {
		t.Fatalf("vCard photo %q after a mismatched avatar", binval)
	}

	// Metadata naming only images elsewhere leaves the photo.
	ok(t, juliet.IQ("set", "", publish(nsMetadata, "remote", "<metadata xmlns='"+nsMetadata+"'><info id='remote' type='image/png' bytes='9' url='https://example.org/a.png'/></metadata>")))
	if binval, _ := photo(t, romeo, "juliet"); binval != data {
		t.Fatalf("vCard photo %q after an avatar stored elsewhere", binval)
	}

	// Empty metadata removes the avatar.
	ok(t, juliet.IQ("set", "", publish(nsMetadata, "current", "<metadata xmlns='"+nsMetadata+"'/>")))
	if binval, _ := photo(t, romeo, "juliet"); binval != "" {
		t.Fatalf("vCard photo %q after the avatar was removed", binval)
	}
	// Contacts learn that it is gone: an empty photo (XEP-0153 §3.1,
	// XEP-0398 §4), not the silence that keeps their copy.
	if h := presenceHash(t, juliet, romeo, ""); h != "" {
		t.Fatalf("presence hash %q after the avatar was removed, want an empty photo", h)
	}
}

// TestRemovedAvatar takes the photo out of the vCard when the avatar's
// metadata item is retracted, and when its node is deleted.
func TestRemovedAvatar(t *testing.T) {
	_, juliet, romeo := start(t)
	data, id := image("a rose")
	ok(t, juliet.IQ("set", "", publish(nsData, id, "<data xmlns='"+nsData+"'>"+data+"</data>")))
	for _, remove := range []string{
		"<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='" + nsMetadata + "'><item id='" + id + "'/></retract></pubsub>",
		"<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='" + nsMetadata + "'/></pubsub>",
	} {
		ok(t, juliet.IQ("set", "", publish(nsMetadata, id, "<metadata xmlns='"+nsMetadata+"'><info id='"+id+"' type='image/png' bytes='6'/></metadata>")))
		if binval, _ := photo(t, romeo, "juliet"); binval != data {
			t.Fatalf("vCard photo %q, want the avatar", binval)
		}
		ok(t, juliet.IQ("set", "", remove))
		if binval, _ := photo(t, romeo, "juliet"); binval != "" {
			t.Fatalf("vCard photo %q after %s", binval, remove)
		}
		if h := presenceHash(t, juliet, romeo, ""); h != "" {
			t.Fatalf("presence hash %q after %s, want an empty photo", h, remove)
		}
	}
}

// TestVCardToPEP sets a vCard photo and checks the PEP avatar and the
// presence hash.
func TestVCardToPEP(t *testing.T) {
	_, juliet, romeo := start(t)
	data, id := image("a dagger")
	card := "<vCard xmlns='" + nsVCard + "'><FN>Juliet</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>" + data + "</BINVAL></PHOTO></vCard>"
	ok(t, juliet.IQ("set", "", card))
	meta := ok(t, juliet.IQ("get", "", "<pubsub xmlns='"+nsPubsub+"'><items node='"+nsMetadata+"'/></pubsub>"))
	item := meta.Child(nsPubsub, "pubsub").Child(nsPubsub, "items").Child(nsPubsub, "item")
	info := item.Child(nsMetadata, "metadata").Child(nsMetadata, "info")
	if item.Attr("id") != id || info.Attr("id") != id || info.Attr("type") != "image/jpeg" || info.Attr("bytes") != "8" {
		t.Fatalf("metadata %s, want the photo", meta)
	}
	got := ok(t, juliet.IQ("get", "", "<pubsub xmlns='"+nsPubsub+"'><items node='"+nsData+"'><item id='"+id+"'/></items></pubsub>"))
	if d := got.Child(nsPubsub, "pubsub").Child(nsPubsub, "items").Child(nsPubsub, "item").Child(nsData, "data"); d.Text() != data {
		t.Fatalf("data %s, want the photo", got)
	}
	if h := presenceHash(t, juliet, romeo, ""); h != id {
		t.Fatalf("presence hash %q, want %s", h, id)
	}

	// The same photo again publishes nothing: a client that wants the
	// metadata's notifications gets none.
	presence, disco := xmpptest.CapsPresence(nsMetadata + "+notify")
	juliet.Send(presence)
	xmpptest.AnswerDisco(t, juliet, disco)
	for el := juliet.Next(); el.Name.Local != "message"; el = juliet.Next() {
	} // the metadata's last item
	juliet.Send("<iq type='set' id='again'>" + card + "</iq>")
	if el := juliet.Next(); el.Name.Local != "iq" || el.Attr("type") != "result" {
		t.Fatalf("got %s, want only the result", el)
	}
}

// TestDeletedAccount checks that a new account of a deleted one's name
// does not carry its photo hash.
func TestDeletedAccount(t *testing.T) {
	s, juliet, romeo := start(t)
	data, id := image("a ring")
	ok(t, juliet.IQ("set", "", "<vCard xmlns='"+nsVCard+"'><PHOTO><BINVAL>"+data+"</BINVAL></PHOTO></vCard>"))
	if h := presenceHash(t, juliet, romeo, ""); h != id {
		t.Fatalf("presence hash %q, want %s", h, id)
	}
	ok(t, juliet.IQ("set", "", "<query xmlns='jabber:iq:register'><remove/></query>"))
	s.AddUser(t, "juliet", xmpptest.Domain, "again")
	juliet = xmpptest.Login(t, s, "juliet", "again", "balcony")
	if h := presenceHash(t, juliet, romeo, ""); h != "none" {
		t.Fatalf("presence hash %q of the new account, want none", h)
	}
}

// TestVCardWithoutStoredHash checks that a vCard stored before the
// photo hash column (NULL there) still gives presence its hash.
func TestVCardWithoutStoredHash(t *testing.T) {
	s := xmpptest.Start(t)
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	s.AddUser(t, "romeo", xmpptest.Domain, "secret")
	data, id := image("an old portrait")
	_, err := s.DB.Exec(context.Background(), `INSERT INTO vcards (domain, username, vcard) VALUES ($1, 'juliet', $2)`,
		xmpptest.Domain, "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>"+data+"</BINVAL></PHOTO></vCard>")
	if err != nil {
		t.Fatal(err)
	}
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "secret", "orchard")
	if h := presenceHash(t, juliet, romeo, ""); h != id {
		t.Fatalf("presence hash %q, want %s", h, id)
	}
}

// TestVCardWithoutPhoto checks that an account whose vCard has no photo
// says so in presence with an empty photo, which XEP-0153 clients take
// for "no avatar", and that one without a vCard says nothing.
func TestVCardWithoutPhoto(t *testing.T) {
	_, juliet, romeo := start(t)
	if h := presenceHash(t, juliet, romeo, ""); h != "none" {
		t.Fatalf("presence hash %q without a vCard, want no update element", h)
	}
	ok(t, juliet.IQ("set", "", "<vCard xmlns='"+nsVCard+"'><FN>Juliet</FN></vCard>"))
	if h := presenceHash(t, juliet, romeo, ""); h != "" {
		t.Fatalf("presence hash %q of a vCard without photo, want an empty photo", h)
	}
}

// TestUpperCaseID checks that an avatar whose id is its SHA-1 in
// upper-case hexadecimal, which XEP-0153 §3.1 says entities must
// process as well, becomes the vCard's photo.
func TestUpperCaseID(t *testing.T) {
	_, juliet, romeo := start(t)
	data, id := image("a lark")
	upper := strings.ToUpper(id)
	ok(t, juliet.IQ("set", "", publish(nsData, upper, "<data xmlns='"+nsData+"'>"+data+"</data>")))
	ok(t, juliet.IQ("set", "", publish(nsMetadata, upper, "<metadata xmlns='"+nsMetadata+"'><info id='"+upper+"' type='image/png' bytes='6'/></metadata>")))
	if binval, _ := photo(t, romeo, "juliet"); binval != data {
		t.Fatalf("vCard photo %q, want the avatar", binval)
	}
	if h := presenceHash(t, juliet, romeo, ""); h != id {
		t.Fatalf("presence hash %q, want %s", h, id)
	}
}

// TestWhitelistAvatarStaysPrivate publishes an avatar whose data node
// only its owner may read (access model whitelist): it must not become
// the photo of the vCard, which anyone may read (XEP-0398 §6).
func TestWhitelistAvatarStaysPrivate(t *testing.T) {
	_, juliet, romeo := start(t)
	data, id := image("a secret rose")
	only := "<publish-options><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
		"<field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options>"
	pub := publish(nsData, id, "<data xmlns='"+nsData+"'>"+data+"</data>")
	ok(t, juliet.IQ("set", "", strings.Replace(pub, "</pubsub>", only+"</pubsub>", 1)))
	ok(t, juliet.IQ("set", "", publish(nsMetadata, id, "<metadata xmlns='"+nsMetadata+"'><info id='"+id+"' type='image/png' bytes='13'/></metadata>")))
	romeo.Send("<iq type='get' id='card' to='juliet@" + xmpptest.Domain + "'><vCard xmlns='" + nsVCard + "'/></iq>")
	res := romeo.NextNamed("iq")
	if card := res.Child(nsVCard, "vCard"); card != nil && card.Child(nsVCard, "PHOTO") != nil {
		t.Fatalf("romeo read %s: the avatar only juliet may see is in her vCard", res)
	}
}
