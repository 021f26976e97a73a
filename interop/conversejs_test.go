package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// chromium is Debian's package's launcher.
const chromium = "/usr/bin/chromium"

// conversejsTimeout bounds the whole browser run; the driver stops itself
// at that limit and the test kills it soon after.
const conversejsTimeout = 180 * time.Second

// stepTimeout bounds each wait in the browser; loginTimeout bounds loading
// the page and logging in, slow on a busy two-core machine (8-12 s seen).
const (
	stepTimeout  = 30 * time.Second
	loginTimeout = 60 * time.Second
)

// TestConverseJS logs alice in with Converse.js in headless Chromium over
// the WebSocket endpoint (RFC 7395) and checks what she sees: her earlier
// chat with bob, loaded from the archive when she opens it; a message she
// types reaching bob and his reply reaching her; a room she joins with
// carol's and bob's messages in it; a mention of bob she picks from
// Converse's suggestions, sent as a XEP-0372 reference, that reaches bob,
// a member not in the room, as a XEP-0452 notification; a page reload;
// and, in a new browser profile, the room's messages coming back from its
// archive (XEP-0313) when she rejoins. Bob and carol are raw Go clients.
func TestConverseJS(t *testing.T) {
	node, npm := needBrowser(t)
	dir, err := filepath.Abs("browser")
	if err != nil {
		t.Fatal(err)
	}
	npmCI(t, npm, dir, "node_modules/playwright-core/package.json", "node_modules/converse.js/dist/converse.min.js")

	// The lenient flood limit that xmppd.example.toml suggests: Converse,
	// chat states included, stays well within it.
	s := xmpptest.Start(t, func(c *config.Config) { c.MUC.FloodRate, c.MUC.FloodBurst = 10, 20 })
	const (
		alice = "alice@" + xmpptest.Domain
		bob   = "bob@" + xmpptest.Domain
		room  = "lobby@conference." + xmpptest.Domain
	)
	passwords := map[string]string{"alice": "Alice's browser pässword", "bob": "bob-pw", "carol": "carol-pw"}
	for user, pw := range passwords {
		s.AddUser(t, user, xmpptest.Domain, pw)
	}

	// Before the browser: alice and bob become contacts and chat a little
	// from raw clients, so the chat is in alice's archive.
	history := []struct{ from, body string }{
		{alice, "Hi Bob, are you there? (history 1)"},
		{bob, "Yes Alice, I'm here & listening (history 2)"},
		{alice, "Grüße from the archive (history 3)"},
	}
	a := xmpptest.Login(t, s, "alice", passwords["alice"], "raw")
	a.Online()
	b := xmpptest.Login(t, s, "bob", passwords["bob"], "raw")
	b.Online()
	befriend(t, a, b)
	for i, m := range history {
		from, to := a, b
		if m.from == bob {
			from, to = b, a
		}
		from.Send(fmt.Sprintf("<message type='chat' id='h%d' to='%s'><body>%s</body></message>", i, bareJID(to.JID), escape(m.body)))
		got := readUntil(t, to, "history message", func(el *xmlstream.Element) bool { return body(el) != "" })
		xmpptest.ExpectBody(t, got, from.JID, m.body)
	}
	if n := archived(t, a, bob); n != len(history) {
		t.Fatalf("alice's archive holds %d messages with bob, want %d", n, len(history))
	}
	a.Send("</stream:stream>")
	a.Conn.Close()

	br := startBrowser(t, node, dir)
	start := time.Now()
	br.do(t, map[string]any{"op": "login", "jid": alice, "password": passwords["alice"],
		"websocket_url": "ws://" + s.HTTPAddr.String() + "/xmpp-websocket", "timeout": loginTimeout.Milliseconds()})
	t.Logf("Converse logged in after %v", time.Since(start).Round(time.Millisecond))

	// 1. Opening the chat with Bob from the contact list shows the history.
	chat := `converse-chat[jid="` + bob + `"]`
	br.do(t, map[string]any{"op": "click", "selector": `converse-roster a.open-chat[data-jid="` + bob + `"]`})
	for _, m := range history {
		br.do(t, map[string]any{"op": "waitText", "selector": chat + " .chat-msg__text", "text": m.body})
	}
	var texts []string
	br.value(t, br.do(t, map[string]any{"op": "texts", "selector": chat + " .chat-msg__text"}), &texts)
	var want []string
	for _, m := range history {
		want = append(want, m.body)
	}
	if !slices.Equal(texts, want) {
		t.Errorf("the chat with bob shows %q, want %q", texts, want)
	}

	// 2. Alice types a message and presses Enter; bob gets it and answers.
	const typed = "Typed in Converse.js: hello Bob!"
	br.do(t, map[string]any{"op": "fill", "selector": chat + " textarea.chat-textarea", "text": typed})
	br.do(t, map[string]any{"op": "press", "selector": chat + " textarea.chat-textarea", "key": "Enter"})
	got := readUntil(t, b, "alice's message from Converse", func(el *xmlstream.Element) bool { return body(el) != "" })
	if got.Attr("type") != "chat" || body(got) != typed || bareJID(got.Attr("from")) != alice {
		t.Fatalf("bob got %s, want a chat message from %s saying %q", got, alice, typed)
	}
	const reply = "Bob's reply <to Converse> & co"
	b.Send("<message type='chat' id='r1' to='" + got.Attr("from") + "'><body>" + escape(reply) + "</body></message>")
	br.do(t, map[string]any{"op": "waitText", "selector": chat + " .chat-msg__text", "text": reply})

	// 3. Alice joins a room where carol is and bob, a member, has been;
	// carol's and bob's messages before her join and carol's after it show
	// up, and alice's reaches carol.
	c := xmpptest.Login(t, s, "carol", passwords["carol"], "raw")
	createRoom(t, c, room, "carol")
	setAffiliation(t, c, room, bob, "member")
	const bobSaid = "Bob was in the lobby before Alice"
	enterRoom(t, b, room, "bob")
	b.Send("<message type='groupchat' id='b1' to='" + room + "'><body>" + bobSaid + "</body></message>")
	readUntil(t, b, "bob's reflected message", func(el *xmlstream.Element) bool { return body(el) == bobSaid })
	b.Send("<presence type='unavailable' to='" + room + "/bob'/>")
	readUntil(t, b, "bob leaving the room", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == room+"/bob" && el.Attr("type") == "unavailable"
	})
	const before, after = "Carol before Alice came", "Carol to everyone, Alice included"
	c.Send("<message type='groupchat' id='c1' to='" + room + "'><body>" + before + "</body></message>")
	readUntil(t, c, "carol's reflected message", func(el *xmlstream.Element) bool { return body(el) == before })
	br.do(t, map[string]any{"op": "eval", "js": "await api.rooms.open('" + room + "', {nick: 'alice'}, true);"})
	muc := `converse-muc[jid="` + room + `"]`
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text", "text": before})
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text", "text": bobSaid})
	readUntil(t, c, "alice entering the room", func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == room+"/alice" && el.Attr("type") == ""
	})
	c.Send("<message type='groupchat' id='c2' to='" + room + "'><body>" + after + "</body></message>")
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text", "text": after})
	const inRoom = "Alice says hi to the room"
	textarea := muc + " textarea.chat-textarea"
	br.do(t, map[string]any{"op": "fill", "selector": textarea, "text": inRoom})
	br.do(t, map[string]any{"op": "press", "selector": textarea, "key": "Enter"})
	got = readUntil(t, c, "alice's room message", func(el *xmlstream.Element) bool { return body(el) == inRoom })
	if got.Attr("type") != "groupchat" || got.Attr("from") != room+"/alice" {
		t.Fatalf("carol got %s, want a groupchat message from %s/alice saying %q", got, room, inRoom)
	}
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text", "text": inRoom})

	// 4. Alice mentions bob, who is not in the room: she types "@bo",
	// picks bob from Converse's suggestions and sends. The message
	// carries a XEP-0372 mention reference, and bob, online but not in the
	// room, gets the room's XEP-0452 notification with the message.
	br.do(t, map[string]any{"op": "type", "selector": textarea, "text": "@bo"})
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .suggestion-box__results li", "text": "bob"})
	br.do(t, map[string]any{"op": "press", "selector": textarea, "key": "Enter"}) // picks the suggestion
	const mentionText = "could you look at the lobby?"
	br.do(t, map[string]any{"op": "type", "selector": textarea, "text": mentionText})
	br.do(t, map[string]any{"op": "press", "selector": textarea, "key": "Enter"})
	isMention := func(el *xmlstream.Element) bool { return strings.Contains(body(el), mentionText) }
	got = readUntil(t, c, "alice's message mentioning bob", isMention)
	var frames []string
	br.value(t, br.do(t, map[string]any{"op": "sent", "text": mentionText}), &frames)
	t.Logf("Converse sent for the mention: %s", frames)
	mentionBody := body(got)
	checkMention(t, "the room's message to carol", got, room+"/bob")
	notice := readUntil(t, b, "the mention notification", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("urn:xmpp:mmn:0", "mentions") != nil
	})
	checkNotice(t, notice, room, bob, mentionBody)
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text .mention", "text": "bob"})

	// 5. Alice reloads the page. Converse resumes its stream (XEP-0198)
	// rather than logging in afresh, so it is still in the room and shows
	// what it kept in the browser; carol's next message reaches it. (What
	// it kept is not checked: a message shown just before the reload may
	// not have been stored yet, and Converse asks the room's archive only
	// for messages older than those it kept.)
	br.do(t, map[string]any{"op": "reload", "timeout": loginTimeout.Milliseconds()})
	br.value(t, br.do(t, map[string]any{"op": "sent", "text": "<resume "}), &frames)
	t.Logf("Converse reloaded after %v, resuming its stream: %v", time.Since(start).Round(time.Millisecond), len(frames) > 0)
	const afterReload = "Carol after Alice's reload"
	c.Send("<message type='groupchat' id='c3' to='" + room + "'><body>" + afterReload + "</body></message>")
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text", "text": afterReload})
	roomTexts := []string{bobSaid, before, after, inRoom, mentionBody, afterReload}
	t.Logf("browser steps took %v", time.Since(start).Round(time.Millisecond))
	br.close(t)

	// 6. Alice opens Converse in a new browser profile, with nothing kept:
	// it logs in, she rejoins the room, and the room's messages, the
	// mention of bob included, come back from the room's archive
	// (XEP-0313), since Converse asks the room for no join history
	// (maxstanzas='0') when the room has an archive.
	start = time.Now()
	br = startBrowser(t, node, dir)
	br.do(t, map[string]any{"op": "login", "jid": alice, "password": passwords["alice"],
		"websocket_url": "ws://" + s.HTTPAddr.String() + "/xmpp-websocket", "timeout": loginTimeout.Milliseconds()})
	br.do(t, map[string]any{"op": "eval", "js": "await api.rooms.open('" + room + "', {nick: 'alice'}, true);"})
	for _, text := range roomTexts {
		br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text", "text": text})
	}
	br.do(t, map[string]any{"op": "waitText", "selector": muc + " .chat-msg__text .mention", "text": "bob"})
	br.value(t, br.do(t, map[string]any{"op": "texts", "selector": muc + " .chat-msg__text"}), &texts)
	if !slices.Equal(texts, roomTexts) {
		t.Errorf("after rejoining, the room shows %q, want %q", texts, roomTexts)
	}
	var archivedTexts []string
	br.value(t, br.do(t, map[string]any{"op": "eval", "js": "const m = await api.rooms.get('" + room + "');" +
		"return m.messages.filter((x) => x.get('is_archived')).map((x) => x.get('body'));"}), &archivedTexts)
	if !slices.Equal(archivedTexts, roomTexts) {
		t.Errorf("Converse got %q from the room's archive, want %q", archivedTexts, roomTexts)
	}
	br.value(t, br.do(t, map[string]any{"op": "sent", "text": "maxstanzas="}), &frames)
	if len(frames) != 1 || !strings.Contains(frames[0], `maxstanzas="0"`) {
		t.Errorf("Converse's join presences %q, want one asking for no history", frames)
	}
	t.Logf("rejoining in a new profile took %v", time.Since(start).Round(time.Millisecond))
	br.close(t)
}

// TestConverseJSBOSH logs alice in with Converse.js over BOSH (XEP-0206)
// instead of WebSocket: she and bob, a raw Go client, chat both ways; a
// page reload takes up the same BOSH session again; and her logout ends
// it, which bob sees in her presence.
func TestConverseJSBOSH(t *testing.T) {
	node, npm := needBrowser(t)
	dir, err := filepath.Abs("browser")
	if err != nil {
		t.Fatal(err)
	}
	npmCI(t, npm, dir, "node_modules/playwright-core/package.json", "node_modules/converse.js/dist/converse.min.js")
	s := xmpptest.Start(t)
	const alice, bob = "alice@" + xmpptest.Domain, "bob@" + xmpptest.Domain
	s.AddUser(t, "alice", xmpptest.Domain, "alice-pw")
	s.AddUser(t, "bob", xmpptest.Domain, "bob-pw")
	a := xmpptest.Login(t, s, "alice", "alice-pw", "raw")
	a.Online()
	b := xmpptest.Login(t, s, "bob", "bob-pw", "raw")
	b.Online()
	befriend(t, a, b)
	a.Send("</stream:stream>")
	a.Conn.Close()

	br := startBrowser(t, node, dir)
	boshURL := "http://" + s.HTTPAddr.String() + "/http-bind"
	br.do(t, map[string]any{"op": "login", "jid": alice, "password": "alice-pw",
		"bosh_service_url": boshURL, "timeout": loginTimeout.Milliseconds()})
	readUntil(t, b, "alice's presence from Converse", isPresence(alice, ""))

	chat := `converse-chat[jid="` + bob + `"]`
	br.do(t, map[string]any{"op": "click", "selector": `converse-roster a.open-chat[data-jid="` + bob + `"]`})
	const fromBob = "Bob to Alice's BOSH session"
	b.Send("<message type='chat' id='m1' to='" + alice + "'><body>" + fromBob + "</body></message>")
	br.do(t, map[string]any{"op": "waitText", "selector": chat + " .chat-msg__text", "text": fromBob})
	const typed = "Typed in Converse.js over BOSH"
	br.do(t, map[string]any{"op": "fill", "selector": chat + " textarea.chat-textarea", "text": typed})
	br.do(t, map[string]any{"op": "press", "selector": chat + " textarea.chat-textarea", "key": "Enter"})
	got := readUntil(t, b, "alice's message from Converse", func(el *xmlstream.Element) bool { return body(el) != "" })
	if body(got) != typed || bareJID(got.Attr("from")) != alice {
		t.Fatalf("bob got %s, want %q from %s", got, typed, alice)
	}
	var frames []string
	br.value(t, br.do(t, map[string]any{"op": "sent", "text": typed}), &frames)
	if len(frames) != 1 || !strings.Contains(frames[0], "http://jabber.org/protocol/httpbind") {
		t.Fatalf("Converse sent the message in %q, want one BOSH request", frames)
	}

	// A reload: Converse takes up its BOSH session again (Strophe's
	// restore, with the sid and rid it kept) and gets what bob sends.
	br.do(t, map[string]any{"op": "reload", "timeout": loginTimeout.Milliseconds()})
	const afterReload = "Bob after the reload"
	b.Send("<message type='chat' id='m2' to='" + alice + "'><body>" + afterReload + "</body></message>")
	br.do(t, map[string]any{"op": "waitText", "selector": chat + " .chat-msg__text", "text": afterReload})
	br.value(t, br.do(t, map[string]any{"op": "sent", "text": "hold="}), &frames)
	if len(frames) != 1 {
		t.Errorf("Converse asked for %d BOSH sessions (%q), want one taken up again after the reload", len(frames), frames)
	}

	br.do(t, map[string]any{"op": "eval", "js": "await api.user.logout();"})
	readUntil(t, b, "alice's unavailable presence after her logout", isPresence(alice, "unavailable"))
	br.value(t, br.do(t, map[string]any{"op": "sent", "text": "type=\"terminate\""}), &frames)
	if len(frames) == 0 {
		t.Errorf("Converse's logout sent no terminating BOSH request")
	}
	br.close(t)
}

// needBrowser returns node's and npm's paths; it fails the test when they
// or Chromium are missing, unless XMPPD_SKIP_INTEROP=1 asks to skip.
func needBrowser(t *testing.T) (node, npm string) {
	t.Helper()
	return needNode(t, chromium)
}

// needNode returns node's and npm's paths; it fails the test when they or
// the other programs named are missing, unless XMPPD_SKIP_INTEROP=1 asks
// to skip.
func needNode(t *testing.T, others ...string) (node, npm string) {
	t.Helper()
	if os.Getenv("XMPPD_SKIP_INTEROP") == "1" {
		t.Skip("XMPPD_SKIP_INTEROP=1")
	}
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs, Node.js 20 or later)")
	}
	npm, err = exec.LookPath("npm")
	if err != nil {
		missing = append(missing, "npm (apt-get install npm)")
	}
	for _, prog := range others {
		if _, err := os.Stat(prog); err != nil {
			missing = append(missing, prog+" (apt-get install "+filepath.Base(prog)+")")
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s needs %s (or set XMPPD_SKIP_INTEROP=1 to skip the interop tests)", t.Name(), strings.Join(missing, ", "))
	}
	return node, npm
}

// npmCI installs dir's pinned packages when any of the files that show
// them installed (paths under dir) is missing.
func npmCI(t *testing.T, npm, dir string, installedFiles ...string) {
	t.Helper()
	installed := true
	for _, f := range installedFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			installed = false
		}
	}
	if installed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	t.Logf("npm ci in %v", time.Since(start).Round(time.Millisecond))
}

// browserDriver talks to browser/driver.mjs.
type browserDriver struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	answers chan json.RawMessage
	stderr  *lockedBuffer
	id      int
}

func startBrowser(t *testing.T, node, dir string) *browserDriver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conversejsTimeout+20*time.Second)
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "driver.mjs"),
		"--chromium", chromium, "--profile", filepath.Join(t.TempDir(), "chromium-profile"),
		"--timeout", fmt.Sprint(int(conversejsTimeout/time.Second)))
	cmd.Dir = dir
	// The driver closes the browser on SIGTERM; SIGKILL comes only if it
	// has not exited 10 s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	br := &browserDriver{cmd: cmd, answers: make(chan json.RawMessage, 1), stderr: &lockedBuffer{}}
	cmd.Stderr = br.stderr
	var err error
	if br.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting driver.mjs: %v", err)
	}
	go func() {
		defer close(br.answers)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			br.answers <- json.RawMessage(slices.Clone(sc.Bytes()))
		}
	}()
	t.Cleanup(func() {
		defer cancel()
		br.stdin.Close() // the driver closes the browser and exits
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil && !t.Failed() {
				t.Errorf("driver.mjs: %v", err)
			}
		case <-time.After(20 * time.Second):
			cancel()
			<-done
			t.Errorf("driver.mjs did not exit within 20s of its input closing")
		}
		if t.Failed() || os.Getenv("XMPPD_TEST_LOG") != "" {
			t.Logf("driver.mjs log (browser console and WebSocket frames):\n%s", br.stderr.tail(200_000))
		}
	})
	return br
}

// do sends one command and waits for its answer; it fails the test if the
// command failed.
func (br *browserDriver) do(t *testing.T, cmd map[string]any) json.RawMessage {
	t.Helper()
	br.id++
	cmd["id"] = br.id
	timeout := stepTimeout
	if ms, ok := cmd["timeout"].(int64); ok {
		timeout = time.Duration(ms) * time.Millisecond
	}
	cmd["timeout"] = timeout.Milliseconds()
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := br.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("driver.mjs: sending %s: %v", cmd["op"], err)
	}
	timer := time.NewTimer(timeout + 15*time.Second)
	defer timer.Stop()
	select {
	case raw, ok := <-br.answers:
		if !ok {
			t.Fatalf("driver.mjs exited during %s %v", cmd["op"], cmd["selector"])
		}
		var ans struct {
			ID    int             `json:"id"`
			OK    bool            `json:"ok"`
			Error string          `json:"error"`
			Page  string          `json:"page"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw, &ans); err != nil || ans.ID != br.id {
			t.Fatalf("driver.mjs answered %s to command %d (%v)", raw, br.id, err)
		}
		if !ans.OK {
			delete(cmd, "password")
			t.Fatalf("in the browser, %v failed: %s\nthe page shows:\n%s", cmd, ans.Error, ans.Page)
		}
		return ans.Value
	case <-timer.C:
		t.Fatalf("driver.mjs did not answer %s %v in time", cmd["op"], cmd["selector"])
	}
	return nil
}

func (br *browserDriver) value(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("driver.mjs value %s: %v", raw, err)
	}
}

// close asks the driver to close the browser and waits for it to exit.
func (br *browserDriver) close(t *testing.T) {
	t.Helper()
	br.do(t, map[string]any{"op": "close"})
}

// lockedBuffer collects the driver's stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail is the last n bytes written.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// readUntil reads c's elements until match accepts one and returns it;
// it fails the test if none comes within 30 s, or if the server sends
// nothing for xmpptest.ReadTimeout.
func readUntil(t *testing.T, c *xmpptest.Client, what string, match func(*xmlstream.Element) bool) *xmlstream.Element {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var skipped []string
	for time.Now().Before(deadline) {
		el, err := c.NextErr()
		if err != nil {
			t.Fatalf("%s: waiting for %s: %v\nskipped: %s", c.JID, what, err, strings.Join(skipped, "\n"))
		}
		if match(el) {
			return el
		}
		skipped = append(skipped, el.String())
	}
	t.Fatalf("%s: no %s within 30s\nskipped: %s", c.JID, what, strings.Join(skipped, "\n"))
	return nil
}

// befriend makes a's and b's users contacts with a subscription both
// ways (RFC 6121 §3), bob named "Bob" in alice's roster.
func befriend(t *testing.T, a, b *xmpptest.Client) {
	t.Helper()
	aBare, bBare := bareJID(a.JID), bareJID(b.JID)
	a.Send("<iq type='set' id='roster1'><query xmlns='jabber:iq:roster'><item jid='" + bBare + "' name='Bob'/></query></iq>")
	readUntil(t, a, "the roster set result", func(el *xmlstream.Element) bool {
		return el.Name.Local == "iq" && el.Attr("id") == "roster1" && el.Attr("type") == "result"
	})
	a.Send("<presence to='" + bBare + "' type='subscribe'/>")
	readUntil(t, b, "alice's subscription request", isPresence(aBare, "subscribe"))
	b.Send("<presence to='" + aBare + "' type='subscribed'/>")
	readUntil(t, a, "bob's approval", isPresence(bBare, "subscribed"))
	b.Send("<presence to='" + aBare + "' type='subscribe'/>")
	readUntil(t, a, "bob's subscription request", isPresence(bBare, "subscribe"))
	a.Send("<presence to='" + bBare + "' type='subscribed'/>")
	readUntil(t, b, "alice's approval", isPresence(aBare, "subscribed"))
	barrier(t, a)
	barrier(t, b)
}

// isPresence matches presence of type typ from the account from (bare).
func isPresence(from, typ string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool {
		return el.Name.Local == "presence" && bareJID(el.Attr("from")) == from && el.Attr("type") == typ
	}
}

// barrier pings the server and reads c's elements up to the answer, so
// everything sent to c before is consumed.
func barrier(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	c.Send("<iq type='get' id='barrier' to='" + xmpptest.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	readUntil(t, c, "the ping result", func(el *xmlstream.Element) bool {
		return el.Name.Local == "iq" && el.Attr("id") == "barrier"
	})
}

// archived counts the messages with with in c's archive (XEP-0313).
func archived(t *testing.T, c *xmpptest.Client, with string) int {
	t.Helper()
	c.Send("<iq type='set' id='mam1'><query xmlns='urn:xmpp:mam:2' queryid='q1'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>" +
		"<field var='with'><value>" + with + "</value></field></x></query></iq>")
	n := 0
	readUntil(t, c, "the end of the archive query", func(el *xmlstream.Element) bool {
		if el.Name.Local == "message" && el.Child("urn:xmpp:mam:2", "result") != nil {
			n++
		}
		return el.Name.Local == "iq" && el.Attr("id") == "mam1"
	})
	return n
}

// createRoom has c create the instant room (XEP-0045 §10.1.2) as nick.
func createRoom(t *testing.T, c *xmpptest.Client, room, nick string) {
	t.Helper()
	c.Send("<presence to='" + room + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	readUntil(t, c, "the room's subject", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("jabber:client", "subject") != nil
	})
	c.Send("<iq type='set' id='cfg1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'>" +
		"<x xmlns='jabber:x:data' type='submit'/></query></iq>")
	el := readUntil(t, c, "the room configuration result", func(el *xmlstream.Element) bool {
		return el.Name.Local == "iq" && el.Attr("id") == "cfg1"
	})
	if el.Attr("type") != "result" {
		t.Fatalf("configuring %s: %s", room, el)
	}
}

func body(el *xmlstream.Element) string {
	if el.Name.Local != "message" {
		return ""
	}
	if b := el.Child("jabber:client", "body"); b != nil {
		return b.Text()
	}
	return ""
}

func bareJID(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;")

func escape(s string) string { return escaper.Replace(s) }

// setAffiliation has c, an owner or admin of room, give user the
// affiliation aff (XEP-0045 §9.3).
func setAffiliation(t *testing.T, c *xmpptest.Client, room, user, aff string) {
	t.Helper()
	c.Send("<iq type='set' id='aff1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#admin'>" +
		"<item jid='" + user + "' affiliation='" + aff + "'/></query></iq>")
	el := readUntil(t, c, "the affiliation change result", func(el *xmlstream.Element) bool {
		return el.Name.Local == "iq" && el.Attr("id") == "aff1"
	})
	if el.Attr("type") != "result" {
		t.Fatalf("making %s %s of %s: %s", user, aff, room, el)
	}
}

// enterRoom has c enter room as nick (XEP-0045 §7.2), asking for no
// history, and reads up to the room's subject, the last of the welcome.
func enterRoom(t *testing.T, c *xmpptest.Client, room, nick string) {
	t.Helper()
	c.Send("<presence to='" + room + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>")
	readUntil(t, c, "the room's subject", func(el *xmlstream.Element) bool {
		return el.Name.Local == "message" && el.Child("jabber:client", "subject") != nil
	})
}

// checkMention checks that the groupchat message m carries a XEP-0372
// mention reference to xmpp:jid.
func checkMention(t *testing.T, what string, m *xmlstream.Element, jid string) {
	t.Helper()
	for _, ref := range m.ChildElements() {
		if ref.Name.Space != "urn:xmpp:reference:0" || ref.Name.Local != "reference" {
			continue
		}
		if ref.Attr("type") != "mention" || ref.Attr("uri") != "xmpp:"+jid {
			t.Errorf("%s: reference %s, want a mention of xmpp:%s", what, ref, jid)
		}
		return
	}
	t.Fatalf("%s carries no XEP-0372 reference: %s", what, m)
}

// checkNotice checks that n is a XEP-0452 mention notification from room
// to user forwarding the room's groupchat message from alice saying text.
func checkNotice(t *testing.T, n *xmlstream.Element, room, user, text string) {
	t.Helper()
	if n.Attr("from") != room || bareJID(n.Attr("to")) != user {
		t.Errorf("notification from %q to %q, want from %s to %s", n.Attr("from"), n.Attr("to"), room, user)
	}
	fwd := n.Child("urn:xmpp:mmn:0", "mentions").Child("urn:xmpp:forward:0", "forwarded")
	var m *xmlstream.Element
	if fwd != nil {
		m = fwd.Child("jabber:client", "message")
	}
	if m == nil || m.Attr("type") != "groupchat" || m.Attr("from") != room+"/alice" || body(m) != text {
		t.Fatalf("notification %s, want it to forward the groupchat message from %s/alice saying %q", n, room, text)
	}
	checkMention(t, "the forwarded message", m, room+"/bob")
}
