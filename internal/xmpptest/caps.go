package xmpptest

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
)

// CapsPresence returns an available presence announcing client
// capabilities (XEP-0115) whose features are features, with the
// verification string of §5.1 computed here, and the disco#info answer
// that the string stands for.
func CapsPresence(features ...string) (presence, info string) {
	s := "client/pc//Test<"
	info = "<query xmlns='http://jabber.org/protocol/disco#info' node='NODE'><identity category='client' type='pc' name='Test'/>"
	for _, f := range features {
		s += f + "<"
		info += "<feature var='" + f + "'/>"
	}
	sum := sha1.Sum([]byte(s))
	ver := base64.StdEncoding.EncodeToString(sum[:])
	info = strings.Replace(info, "NODE", "https://example.org/test#"+ver, 1) + "</query>"
	return "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org/test' ver='" + ver + "'/></presence>", info
}

// AnswerDisco reads the server's disco#info query, skipping presence,
// and answers it with info.
func AnswerDisco(t testing.TB, c *Client, info string) {
	t.Helper()
	q := c.Next()
	for q.Name.Local == "presence" {
		q = c.Next()
	}
	if q.Attr("type") != "get" || q.Child("http://jabber.org/protocol/disco#info", "query") == nil {
		t.Fatalf("got %s, want the server's disco#info query", q)
	}
	c.Send("<iq type='result' id='" + q.Attr("id") + "' to='" + q.Attr("from") + "'>" + info + "</iq>")
}
