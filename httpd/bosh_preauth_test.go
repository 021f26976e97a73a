package httpd

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"xmppd/xmlstream"
)

// TestBOSHBodyOverStreamLimitNotParsed sends, in a session that has not
// authenticated, a request far larger than its stream accepts yet (16 KiB
// before authentication): the stream gets its policy-violation, but the
// body is not parsed into a tree first, which takes dozens of times its
// size, and which an unauthenticated client could have the server do for
// as many requests at once as it likes. The body is not well-formed past
// its start: parsed, it would be refused as bad-request.
func TestBOSHBodyOverStreamLimitNotParsed(t *testing.T) {
	h := newBOSHHandler(Config{}, nil)
	s := newBOSHSession(1, xmlstream.Limits{}, h.forget)
	t.Cleanup(func() { s.Close() })
	s.SetMaxStanzaBytes(16 << 10) // as c2s does before authentication
	h.sessions[s.sid] = s
	gone, cancel := context.WithCancel(context.Background())
	cancel() // answers come at once
	creation, err := xmlstream.ParseElement([]byte("<body xmlns='"+NSHTTPBind+"' rid='1' to='localhost'/>"), xmlstream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s.request(gone, creation, 1, 100)
	if _, err := s.ReadHeader(); err != nil {
		t.Fatal(err)
	}

	data := fmt.Sprintf("<body xmlns='%s' sid='%s' rid='2'><message xmlns='jabber:client'>%s</body>", NSHTTPBind, s.sid, strings.Repeat("<a>", 50000))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(gone, "POST", "/http-bind", strings.NewReader(data)))
	if strings.Contains(w.Body.String(), "bad-request") {
		t.Fatalf("answer %d %s: the body was parsed", w.Code, w.Body)
	}
	var xe *xmlstream.Error
	if _, err := s.ReadElement(); !errors.As(err, &xe) || xe.Condition != xmlstream.CondPolicyViolation {
		t.Fatalf("the stream read %v, want a policy-violation", err)
	}
}
