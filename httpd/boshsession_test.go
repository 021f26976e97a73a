package httpd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"xmppd/xmlstream"
)

// emptyBody is an answer with nothing in it.
const emptyBody = "<body xmlns='" + NSHTTPBind + "'/>"

// boshTest drives a boshSession directly, as the handler does, with
// requests on goroutines of their own.
type boshTest struct {
	t   *testing.T
	s   *boshSession
	ctx context.Context
}

func newBOSHTest(t *testing.T, firstRID int64) *boshTest {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := newBOSHSession(firstRID, xmlstream.Limits{}, func(*boshSession) {})
	t.Cleanup(func() { s.Close() })
	return &boshTest{t: t, s: s, ctx: ctx}
}

// request sends a request of rid with payload; its answer comes on the
// channel returned.
func (bt *boshTest) request(rid int64, attrs, payload string) <-chan string {
	bt.t.Helper()
	return bt.requestSized(rid, attrs, payload, 0)
}

// requestGivenUp is request by a client that gives up waiting for the
// answer at once.
func (bt *boshTest) requestGivenUp(rid int64, payload string) <-chan string {
	bt.t.Helper()
	ctx, cancel := context.WithCancel(bt.ctx)
	cancel()
	body, err := xmlstream.ParseElement([]byte(fmt.Sprintf("<body xmlns='%s' rid='%d'>%s</body>", NSHTTPBind, rid, payload)), xmlstream.Limits{})
	if err != nil {
		bt.t.Fatal(err)
	}
	answer := make(chan string, 1)
	go func() { answer <- bt.do(ctx, body, rid, 0) }()
	return answer
}

// twoHeld opens a session whose stream takes at most 10 bytes of
// requests before it reads them, and sends two requests of 100 bytes
// with the messages 2 and 3: both are held, their answers pending.
func (bt *boshTest) twoHeld() (second, third <-chan string) {
	bt.t.Helper()
	bt.open()
	bt.readHeader()
	bt.s.mu.Lock()
	bt.s.maxIn = 10
	bt.s.mu.Unlock()
	second = bt.requestSized(2, "", "<message xmlns='jabber:client' id='2'/>", 100)
	third = bt.requestSized(3, "", "<message xmlns='jabber:client' id='3'/>", 100)
	bt.waitUntil("two requests held", func() bool { return len(bt.s.held) == 2 })
	return second, third
}

// requestSized is request as if the HTTP request's body took size bytes.
func (bt *boshTest) requestSized(rid int64, attrs, payload string, size int) <-chan string {
	bt.t.Helper()
	body, err := xmlstream.ParseElement([]byte(fmt.Sprintf("<body xmlns='%s' rid='%d'%s>%s</body>", NSHTTPBind, rid, attrs, payload)), xmlstream.Limits{})
	if err != nil {
		bt.t.Fatal(err)
	}
	answer := make(chan string, 1)
	go func() { answer <- bt.do(bt.ctx, body, rid, size) }()
	return answer
}

// do is the session's request, its answer as the handler sends it.
func (bt *boshTest) do(ctx context.Context, body *xmlstream.Element, rid int64, size int) string {
	resp, condition := bt.s.request(ctx, body, rid, size)
	if condition != "" {
		return string(boshTerminate(condition))
	}
	return string(resp)
}

// open answers the session's creation request, of rid 1, with stream
// features.
func (bt *boshTest) open() {
	bt.t.Helper()
	bt.s.Write([]byte("<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"))
	bt.answer(bt.request(1, " to='localhost'", ""))
}

// readHeader reads the stream header of the creation request.
func (bt *boshTest) readHeader() {
	bt.t.Helper()
	if _, err := bt.s.ReadHeader(); err != nil {
		bt.t.Fatal(err)
	}
}

// waitUntil waits for cond, checked under the session's lock at each of
// its changes.
func (bt *boshTest) waitUntil(what string, cond func() bool) {
	bt.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		bt.s.mu.Lock()
		ok, changed := cond(), bt.s.changed
		bt.s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			bt.t.Fatalf("waiting for %s", what)
		}
	}
}

func (bt *boshTest) answer(ch <-chan string) string {
	bt.t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		bt.t.Fatal("no answer")
		return ""
	}
}

func (bt *boshTest) readID() string {
	bt.t.Helper()
	el, err := bt.s.ReadElement()
	if err != nil {
		bt.t.Fatal(err)
	}
	return el.Attr("id")
}

// TestBOSHRequestOrder takes a request that came before the one of the
// rid before it only after that one (XEP-0124 §14.2), and answers the
// oldest held request at once when more are held than agreed.
func TestBOSHRequestOrder(t *testing.T) {
	bt := newBOSHTest(t, 10)
	created := bt.request(10, " to='localhost' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'", "")
	if h, err := bt.s.ReadHeader(); err != nil || h.To != "localhost" || h.Version != "1.0" {
		t.Fatalf("header %+v, %v", h, err)
	}
	second := bt.request(12, "", "<message xmlns='jabber:client' id='second'/>")
	bt.waitUntil("the request of rid 12", func() bool { return bt.s.early[12] != nil })
	first := bt.request(11, "", "<message xmlns='jabber:client' id='first'/>")
	if a, b := bt.readID(), bt.readID(); a != "first" || b != "second" {
		t.Fatalf("read %s, %s; want first, second", a, b)
	}
	// Three held, one agreed: the two oldest are answered, empty.
	if a := bt.answer(created); !strings.Contains(a, "sid='"+bt.s.sid+"'") || strings.Contains(a, "</body>") {
		t.Errorf("creation answer %s, want an empty one with the session's attributes", a)
	}
	if a := bt.answer(first); a != emptyBody {
		t.Errorf("answer to rid 11: %s, want an empty body", a)
	}
	bt.s.Write([]byte("<message xmlns='jabber:client' id='out'/>"))
	if a := bt.answer(second); !strings.Contains(a, "id='out'") {
		t.Errorf("answer to rid 12: %s, want the message written", a)
	}
}

// TestBOSHRequestAgain answers a held request asked for again, its first
// connection having failed, on the new one.
func TestBOSHRequestAgain(t *testing.T) {
	bt := newBOSHTest(t, 1)
	bt.open()
	lost := bt.request(2, "", "")
	bt.waitUntil("rid 2 held", func() bool { return len(bt.s.held) == 1 })
	again := bt.request(2, "", "")
	if a := bt.answer(lost); a != emptyBody {
		t.Errorf("the lost request got %s, want an empty body", a)
	}
	bt.s.Write([]byte("<message xmlns='jabber:client' id='m'/>"))
	if a := bt.answer(again); !strings.Contains(a, "id='m'") {
		t.Errorf("the request asked again got %s, want the message", a)
	}
}

// TestBOSHWriteWaitsForClient holds writes while too much waits for the
// client, and gives up after the write timeout.
func TestBOSHWriteWaitsForClient(t *testing.T) {
	bt := newBOSHTest(t, 1)
	bt.open()
	bt.s.mu.Lock()
	bt.s.maxOut, bt.s.writeTimeout = 10, 50*time.Millisecond
	bt.s.mu.Unlock()
	if err := bt.s.Write([]byte("<message xmlns='jabber:client' id='1'/>")); err != nil {
		t.Fatal(err)
	}
	if err := bt.s.Write([]byte("<message xmlns='jabber:client' id='2'/>")); err != errBOSHSlow {
		t.Fatalf("Write = %v, want %v", err, errBOSHSlow)
	}
	bt.s.mu.Lock()
	bt.s.writeTimeout = 10 * time.Second
	bt.s.mu.Unlock()
	written := make(chan error, 1)
	go func() { written <- bt.s.Write([]byte("<message xmlns='jabber:client' id='3'/>")) }()
	if a := bt.answer(bt.request(2, "", "")); !strings.Contains(a, "id='1'") {
		t.Fatalf("got %s, want the first message", a)
	}
	if err := <-written; err != nil {
		t.Fatalf("Write after the client collected: %v", err)
	}
}

// TestBOSHCloseKeepsOutput gives the request that comes after the stream
// closed what the stream wrote before, its error and end included.
func TestBOSHCloseKeepsOutput(t *testing.T) {
	bt := newBOSHTest(t, 1)
	bt.open()
	bt.s.Write([]byte("<message xmlns='jabber:client' id='last'/>"),
		[]byte("<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"),
		bt.s.CloseFrame())
	bt.s.Close()
	if _, err := bt.s.ReadElement(); err == nil {
		t.Fatal("the stream read on after Close")
	}
	a := bt.answer(bt.request(2, "", ""))
	if !strings.Contains(a, "type='terminate'") || !strings.Contains(a, "condition='remote-stream-error'") ||
		!strings.Contains(a, "id='last'") || !strings.Contains(a, "<conflict") {
		t.Fatalf("the request after Close got %s, want the message, the error and the end", a)
	}
}

// TestBOSHInputWaitsForStream keeps the client's requests while the
// stream is behind with what it sent, and ends a session whose client
// sends more at once than agreed.
func TestBOSHInputWaitsForStream(t *testing.T) {
	bt := newBOSHTest(t, 1)
	second, third := bt.twoHeld()
	if a, b := bt.readID(), bt.readID(); a != "2" || b != "3" {
		t.Fatalf("read %s, %s", a, b)
	}
	if a := bt.answer(second); a != emptyBody {
		t.Fatalf("once the stream read on, rid 2 got %s, want an empty body", a)
	}
	// Behind again, and a third request at once: too many.
	bt.requestSized(4, "", "<message xmlns='jabber:client' id='4'/>", 100)
	bt.waitUntil("rid 4 taken", func() bool { return bt.s.nextRID == 5 })
	if a := bt.answer(bt.requestSized(5, "", "", 100)); !strings.Contains(a, "condition='policy-violation'") {
		t.Fatalf("a request more than agreed got %s, want policy-violation", a)
	}
	if a := bt.answer(third); !strings.Contains(a, "type='terminate'") || !strings.Contains(a, "condition='other-request'") {
		t.Fatalf("a held request got %s, want the end with other-request", a)
	}
}

// TestBOSHOtherRequest: a request that ends the session with a terminal
// binding condition of its own, with a rid beyond the window (XEP-0124
// §14.2) or as a bad request, gets that condition; the request the
// session held gets the end with other-request (§17.2), and so does a
// request that comes before the session is forgotten.
func TestBOSHOtherRequest(t *testing.T) {
	tests := []struct {
		name      string
		end       func(bt *boshTest) string // ends the session, returns the answer of the request that did
		condition string
	}{
		{"rid beyond the window", func(bt *boshTest) string { return bt.answer(bt.request(20, "", "")) }, "item-not-found"},
		{"bad request", func(bt *boshTest) string {
			// As the handler does for a request it cannot parse.
			bt.s.fail(errBOSHBadRequest)
			return string(boshTerminate("bad-request"))
		}, "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bt := newBOSHTest(t, 1)
			bt.open()
			held := bt.request(2, "", "")
			bt.waitUntil("rid 2 held", func() bool { return len(bt.s.held) == 1 })
			if a := tt.end(bt); !strings.Contains(a, "condition='"+tt.condition+"'") {
				t.Fatalf("the request that ended the session got %s, want %s", a, tt.condition)
			}
			want := "<body xmlns='" + NSHTTPBind + "' type='terminate' condition='other-request'/>"
			if a := bt.answer(held); a != want {
				t.Fatalf("the held request got %s, want %s", a, want)
			}
			if a := bt.answer(bt.request(3, "", "")); a != want {
				t.Fatalf("a request after the end got %s, want %s", a, want)
			}
		})
	}
}

// TestBOSHEarlyRequestAgain answers a request that came early, and whose
// client gave up before its turn, again when asked again after its turn.
func TestBOSHEarlyRequestAgain(t *testing.T) {
	bt := newBOSHTest(t, 1)
	bt.open()
	if a := bt.answer(bt.requestGivenUp(3, "<message xmlns='jabber:client' id='3'/>")); a != emptyBody {
		t.Fatalf("rid 3, given up, got %s", a)
	}
	bt.request(2, "", "<message xmlns='jabber:client' id='2'/>")
	bt.waitUntil("rid 3 taken", func() bool { return bt.s.nextRID == 4 })
	if a := bt.answer(bt.request(3, "", "")); a != emptyBody {
		t.Fatalf("rid 3 asked again got %s, want its empty answer", a)
	}
}

// TestBOSHGap goes on without a request that never comes, as after a
// page reload Strophe.js may start after a rid the old page never sent,
// and takes it if it comes late after all.
func TestBOSHGap(t *testing.T) {
	bt := newBOSHTest(t, 1)
	bt.s.gapWait = 10 * time.Millisecond
	bt.open()
	bt.readHeader()
	bt.request(3, "", "<message xmlns='jabber:client' id='3'/>")
	if id := bt.readID(); id != "3" {
		t.Fatalf("read %s, want 3", id)
	}
	late := bt.request(2, "", "<message xmlns='jabber:client' id='2'/>")
	if id := bt.readID(); id != "2" {
		t.Fatalf("read %s, want the late 2", id)
	}
	bt.s.Write([]byte("<message xmlns='jabber:client' id='out'/>"))
	if a := bt.answer(late); !strings.Contains(a, "id='out'") {
		t.Fatalf("the late rid 2 got %s, want what was written", a)
	}
}

// TestBOSHTerminateAnswersEarlierRequest ends a session from the client
// (XEP-0124 §13) while it holds an earlier request: what the stream
// writes before its end goes to that request, in an answer that does not
// end the session, and the termination request gets the end alone.
// Clients such as Strophe.js read nothing in an answer that ends a
// session they are ending, so a stanza there would be lost.
func TestBOSHTerminateAnswersEarlierRequest(t *testing.T) {
	bt := newBOSHTest(t, 1)
	bt.open()
	bt.readHeader()
	earlier := bt.request(2, "", "")
	bt.waitUntil("rid 2 held", func() bool { return len(bt.s.held) == 1 })
	end := bt.request(3, " type='terminate'", "<presence xmlns='jabber:client' type='unavailable'/>")
	if el, err := bt.s.ReadElement(); err != nil || el.Name.Local != "presence" {
		t.Fatalf("read %v, %v; want the presence", el, err)
	}
	bt.s.Write([]byte("<message xmlns='jabber:client' id='late'/>"))
	if _, err := bt.s.ReadElement(); err != xmlstream.ErrStreamEnd {
		t.Fatalf("read %v, want the end of the stream", err)
	}
	bt.s.Write(bt.s.CloseFrame())
	if a := bt.answer(earlier); !strings.Contains(a, "id='late'") || strings.Contains(a, "terminate") {
		t.Errorf("the earlier request got %s, want the message, without the end", a)
	}
	if a := bt.answer(end); a != "<body xmlns='"+NSHTTPBind+"' type='terminate'/>" {
		t.Errorf("the termination request got %s, want the end alone", a)
	}
}

// TestBOSHTerminateBeyondRequests ends a session with a request beyond
// the number agreed, while the stream is behind and holds the others:
// XEP-0124 §11 lets a client make one more request to terminate, which is
// no policy violation. The held requests get what the stream wrote, the
// termination request the end.
func TestBOSHTerminateBeyondRequests(t *testing.T) {
	bt := newBOSHTest(t, 1)
	second, third := bt.twoHeld()
	end := bt.requestSized(4, " type='terminate'", "<presence xmlns='jabber:client' type='unavailable'/>", 100)
	bt.waitUntil("rid 4 taken", func() bool { return bt.s.nextRID == 5 })
	if a, b := bt.readID(), bt.readID(); a != "2" || b != "3" {
		t.Fatalf("read %s, %s", a, b)
	}
	if el, err := bt.s.ReadElement(); err != nil || el.Name.Local != "presence" {
		t.Fatalf("read %v, %v; want the presence", el, err)
	}
	if _, err := bt.s.ReadElement(); err != xmlstream.ErrStreamEnd {
		t.Fatalf("read %v, want the end of the stream", err)
	}
	bt.s.Write(bt.s.CloseFrame())
	for rid, ch := range map[int]<-chan string{2: second, 3: third} {
		if a := bt.answer(ch); strings.Contains(a, "terminate") {
			t.Errorf("rid %d got %s, want an answer that does not end the session", rid, a)
		}
	}
	if a := bt.answer(end); a != "<body xmlns='"+NSHTTPBind+"' type='terminate'/>" {
		t.Errorf("the termination request got %s, want the end alone", a)
	}
}

// TestBOSHPollingInterval ends a polling session (wait='0') whose client
// sends two empty requests within the polling interval, the first
// answered empty, with policy-violation (XEP-0124 §12). An empty request
// after one with a payload may come at once.
func TestBOSHPollingInterval(t *testing.T) {
	bt := newBOSHTest(t, 1)
	bt.s.wait = 0
	bt.s.polling = time.Hour // no two requests of the test are that far apart
	bt.open()
	bt.readHeader()
	if a := bt.answer(bt.request(2, "", "")); a != emptyBody {
		t.Fatalf("the first poll got %s, want an empty body", a)
	}
	if a := bt.answer(bt.request(3, "", "<message xmlns='jabber:client' id='3'/>")); a != emptyBody {
		t.Fatalf("a request with a payload got %s, want an empty body", a)
	}
	if a := bt.answer(bt.request(4, "", "")); a != emptyBody {
		t.Fatalf("a poll after a request with a payload got %s, want an empty body", a)
	}
	if a := bt.answer(bt.request(5, "", "")); !strings.Contains(a, "condition='policy-violation'") {
		t.Fatalf("a poll within the polling interval got %s, want policy-violation", a)
	}
	if a := bt.answer(bt.request(6, "", "")); !strings.Contains(a, "type='terminate'") {
		t.Fatalf("a request after the violation got %s, want the session's end", a)
	}
}
