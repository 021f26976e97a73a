package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"xmppd/certs"
	"xmppd/config"
	"xmppd/internal/dnstest"
	"xmppd/internal/xmpptest"
	"xmppd/xmlstream"
)

// The two federating domains. Neither is in real DNS: xmppd reaches
// Prosody through its [s2s.routes], Prosody reaches xmppd through an SRV
// record it is given in its configuration (see interop/prosody/prosody.cfg.lua).
const (
	xmppdDomain   = "xmppd.test"
	prosodyDomain = "prosody.test"
)

// prosodyTimeout bounds Prosody's start and each prosodyctl command.
const prosodyTimeout = 30 * time.Second

// TestProsodyS2S federates xmppd with Prosody (RFC 6120 server streams,
// STARTTLS, XEP-0220 dialback, since neither side can verify the other's
// self-signed certificate) and proves stanzas cross in both directions
// between real clients: alice on xmppd and bob on Prosody exchange a chat
// message each way, each asks the other's server for disco#info (XEP-0030)
// and pings it (XEP-0199), and alice pings bob's own client, which
// answers, so an IQ travels to a remote full JID and its result back.
func TestProsodyS2S(t *testing.T) {
	_, _, a, b := federateWithProsody(t, nil, false)

	// xmppd -> Prosody: the first stanza makes xmppd open a stream to
	// Prosody, which checks xmppd's dialback key over a stream of its own
	// to xmppd; bob's bare JID, so Prosody's RFC 6121 rules deliver it.
	const hello = "Hello Bob, from xmppd & federation <3"
	a.Send("<message type='chat' id='s2s1' to='bob@" + prosodyDomain + "'><body>" + escape(hello) + "</body></message>")
	got := readUntil(t, b, "alice's message over s2s", isMessage)
	if got.Attr("type") != "chat" || got.Attr("from") != a.JID || body(got) != hello {
		t.Fatalf("bob got %s, want a chat message from %s saying %q", got, a.JID, hello)
	}

	// Prosody -> xmppd, to the full JID the message came from: now
	// Prosody opens a stream to xmppd and xmppd checks Prosody's key.
	const reply = "Hi Alice, Prosody here: grüße & <cheers>"
	b.Send("<message type='chat' id='s2s2' to='" + got.Attr("from") + "'><body>" + escape(reply) + "</body></message>")
	got = readUntil(t, a, "bob's reply over s2s", isMessage)
	if got.Attr("type") != "chat" || got.Attr("from") != b.JID || body(got) != reply {
		t.Fatalf("alice got %s, want a chat message from %s saying %q", got, b.JID, reply)
	}

	// Each asks the other's server who it is and pings it.
	for _, c := range []struct {
		client *xmpptest.Client
		remote string
	}{{a, prosodyDomain}, {b, xmppdDomain}} {
		c.client.Send("<iq type='get' id='disco-remote' to='" + c.remote + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		res := readUntil(t, c.client, "disco#info of "+c.remote, isIQ("disco-remote"))
		q := res.Child("http://jabber.org/protocol/disco#info", "query")
		if res.Attr("type") != "result" || res.Attr("from") != c.remote || q == nil || q.Child("", "identity") == nil ||
			q.Child("", "identity").Attr("category") != "server" {
			t.Fatalf("%s asked %s for disco#info and got %s, want a result with a server identity", c.client.JID, c.remote, res)
		}
		c.client.Send("<iq type='get' id='ping-remote' to='" + c.remote + "'><ping xmlns='urn:xmpp:ping'/></iq>")
		res = readUntil(t, c.client, "the ping result from "+c.remote, isIQ("ping-remote"))
		if res.Attr("type") != "result" || res.Attr("from") != c.remote {
			t.Fatalf("%s pinged %s and got %s, want a result", c.client.JID, c.remote, res)
		}
	}

	// alice pings bob's client itself; bob's client answers.
	a.Send("<iq type='get' id='ping-bob' to='" + b.JID + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	ping := readUntil(t, b, "alice's ping", isIQ("ping-bob"))
	if ping.Attr("type") != "get" || ping.Attr("from") != a.JID || ping.Child("urn:xmpp:ping", "ping") == nil {
		t.Fatalf("bob got %s, want alice's ping from %s", ping, a.JID)
	}
	b.Send("<iq type='result' id='ping-bob' to='" + a.JID + "'/>")
	pong := readUntil(t, a, "bob's answer to the ping", isIQ("ping-bob"))
	if pong.Attr("type") != "result" || pong.Attr("from") != b.JID {
		t.Fatalf("alice got %s, want the result of her ping from %s", pong, b.JID)
	}

	for _, c := range []*xmpptest.Client{a, b} {
		c.Send("</stream:stream>")
	}
}

// TestProsodyS2SSecureAuth federates xmppd with a Prosody that accepts
// only verified certificates (s2s_secure_auth), both with certificates
// from one test CA, and xmppd demanding the same (s2s.secure_auth): each
// authenticates the other by certificate, with SASL EXTERNAL (XEP-0178)
// or dialback believed on the certificate, and chat crosses both ways.
// Both servers do bidirectional streams (XEP-0288): Prosody's reply comes
// back over the stream xmppd opened, and Prosody opens none to xmppd.
// Both acknowledge what the other sent over it (XEP-0198).
func TestProsodyS2SSecureAuth(t *testing.T) {
	s, p, a, b := federateWithProsody(t, xmpptest.NewCA(t), false)
	a.Send("<message type='chat' id='sa1' to='bob@" + prosodyDomain + "'><body>certified</body></message>")
	if got := readUntil(t, b, "alice's message", isMessage); got.Attr("from") != a.JID || body(got) != "certified" {
		t.Fatalf("bob got %s, want alice's message", got)
	}
	b.Send("<message type='chat' id='sa2' to='" + a.JID + "'><body>verified</body></message>")
	if got := readUntil(t, a, "bob's reply", isMessage); got.Attr("from") != b.JID || body(got) != "verified" {
		t.Fatalf("alice got %s, want bob's reply", got)
	}
	if in, out := s.S2S().Streams(); in != 0 || out != 1 {
		t.Errorf("xmppd has %d incoming and %d outgoing server streams, want the one it opened alone", in, out)
	}
	// On a stream authenticated by certificate Prosody offers stream
	// management (XEP-0198): xmppd enabled it before sending alice's
	// message, so that the message counts as sent once acknowledged.
	if !regexp.MustCompile(`Received\[s2sin\]: <enable [^>]*'urn:xmpp:sm:3'`).MatchString(p.log()) {
		t.Errorf("xmppd did not enable stream management on its stream to Prosody")
	}
}

// xmppdSRV is the SRV record, for Prosody's resolver, of xmppd's service
// ("xmpp-server" or "xmpps-server") on port.
func xmppdSRV(service string, port int) string {
	return fmt.Sprintf("_%s._tcp.%s. 60 IN SRV 0 0 %d localhost.", service, xmppdDomain, port)
}

// TestProsodyS2SDirectTLS federates xmppd and Prosody over direct TLS
// (XEP-0368) only: each knows the other through a _xmpps-server._tcp SRV
// record alone. Chat crosses both ways, which takes a stream each way and
// the dialback checks back over streams of their own.
func TestProsodyS2SDirectTLS(t *testing.T) {
	_, _, a, b := federateWithProsody(t, nil, true)
	a.Send("<message type='chat' id='d1' to='bob@" + prosodyDomain + "'><body>over direct TLS</body></message>")
	if got := readUntil(t, b, "alice's message", isMessage); got.Attr("from") != a.JID || body(got) != "over direct TLS" {
		t.Fatalf("bob got %s, want alice's message", got)
	}
	b.Send("<message type='chat' id='d2' to='" + a.JID + "'><body>and back</body></message>")
	if got := readUntil(t, a, "bob's reply", isMessage); got.Attr("from") != b.JID || body(got) != "and back" {
		t.Fatalf("alice got %s, want bob's reply", got)
	}
}

// federateWithProsody starts xmppd for xmppdDomain and Prosody for
// prosodyDomain, federating, and returns alice logged in to xmppd and bob
// to Prosody, both available. With a CA, both servers have certificates
// from it, trust it, and accept no peer without a verified certificate.
// With direct, each finds the other only through a _xmpps-server._tcp SRV
// record, so every stream between them is direct TLS (XEP-0368).
func federateWithProsody(t *testing.T, ca *xmpptest.CA, direct bool) (s *xmpptest.Server, p *prosody, a, b *xmpptest.Client) {
	t.Helper()
	needProsody(t)
	prosodyC2S, prosodyS2S, prosodyDirect := freePort(t), freePort(t), 0
	s = xmpptest.Start(t, func(c *config.Config) {
		c.Hosts = []string{xmppdDomain}
		c.S2S.Listen = "127.0.0.1:0"
		c.S2S.RequireTLS = true
		c.S2S.Routes = map[string]string{prosodyDomain: net.JoinHostPort("127.0.0.1", strconv.Itoa(prosodyS2S))}
		if direct {
			c.S2S.ListenTLS = "127.0.0.1:0"
			c.S2S.Routes = nil
		}
		if ca != nil {
			c.TLS.Certificates = []config.Certificate{ca.Issue(t, xmppdDomain)}
			c.S2S.CAFile, c.S2S.SecureAuth = ca.File, true
		}
	})
	srv := xmppdSRV("xmpp-server", s.S2SAddr.(*net.TCPAddr).Port)
	if direct {
		prosodyDirect = freePort(t)
		srv = xmppdSRV("xmpps-server", s.S2STLSAddr.(*net.TCPAddr).Port)
		dns := dnstest.Start(t, "server."+prosodyDomain+". A 127.0.0.1")
		dns.Add(t, fmt.Sprintf("_xmpps-server._tcp.%s. SRV 0 5 %d server.%s.", prosodyDomain, prosodyDirect, prosodyDomain))
		s.S2S().SetResolver(dns.Resolver())
	}
	const alicePass, bobPass = "alice's s2s secret", "bob's prosody secret"
	s.AddUser(t, "alice", xmppdDomain, alicePass)
	p = newProsody(t, prosodyC2S, prosodyS2S, prosodyDirect, srv, ca)
	p.register(t, "bob", bobPass)
	p.start(t)

	a = xmpptest.LoginAddr(t, s.C2SAddr, xmppdDomain, "alice", alicePass, "xmppd-client")
	a.Online()
	b = xmpptest.LoginAddr(t, p.c2sAddr, prosodyDomain, "bob", bobPass, "prosody-client")
	b.Online()
	return s, p, a, b
}

// TestProsodyPEP: personal events (XEP-0163) cross between xmppd and
// Prosody's mod_pep both ways. Each side learns the other's client's
// entity capabilities (XEP-0115) from its presence, asks that client
// what they mean, and sends it the last mood of its contact, then each
// new one.
func TestProsodyPEP(t *testing.T) {
	_, _, a, b := federateWithProsody(t, nil, false)
	const mood = "http://jabber.org/protocol/mood"
	aBare, bBare := bareJID(a.JID), bareJID(b.JID)
	for _, c := range []struct {
		from, to         *xmpptest.Client
		fromBare, toBare string
	}{{a, b, aBare, bBare}, {b, a, bBare, aBare}} {
		c.from.Send("<presence to='" + c.toBare + "' type='subscribe'/>")
		readUntil(t, c.to, "a subscription request", isPresence(c.fromBare, "subscribe"))
		c.to.Send("<presence to='" + c.fromBare + "' type='subscribed'/>")
		// Prosody passes on the approval only as a roster push, to
		// clients that asked for the roster; the contact's presence
		// follows it from either server.
		readUntil(t, c.from, "the contact's presence", isPresence(c.toBare, ""))
	}
	publish := func(c *xmpptest.Client, id, how string) {
		c.Send("<iq type='set' id='" + id + "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='" + mood +
			"'><item id='" + id + "'><mood xmlns='" + mood + "'><" + how + "/></mood></item></publish></pubsub></iq>")
		if res := readUntil(t, c, "the publish result", isIQ(id)); res.Attr("type") != "result" {
			t.Fatalf("%s published and got %s", c.JID, res)
		}
	}
	// moodFrom reads c's elements, answering every disco#info query with
	// info, until a mood event from owner arrives, and returns its item id.
	moodFrom := func(c *xmpptest.Client, info, owner string) string {
		const nsEvent = "http://jabber.org/protocol/pubsub#event"
		el := readUntil(t, c, "a mood from "+owner, func(el *xmlstream.Element) bool {
			if el.Name.Local == "iq" && el.Attr("type") == "get" && el.Child("http://jabber.org/protocol/disco#info", "query") != nil {
				c.Send("<iq type='result' id='" + escape(el.Attr("id")) + "' to='" + escape(el.Attr("from")) + "'>" + info + "</iq>")
				return false
			}
			return el.Name.Local == "message" && el.Attr("from") == owner && el.Child(nsEvent, "event") != nil
		})
		return el.Child(nsEvent, "event").Child(nsEvent, "items").Child(nsEvent, "item").Attr("id")
	}
	caps, info := xmpptest.CapsPresence("http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", mood+"+notify")

	// xmppd -> Prosody, then Prosody -> xmppd: the reader announces its
	// capabilities after the owner's first mood, so it gets that one as
	// the last item, then the owner's next as a notification.
	for _, c := range []struct {
		owner, reader *xmpptest.Client
		ownerBare     string
	}{{a, b, aBare}, {b, a, bBare}} {
		publish(c.owner, "first", "happy")
		c.reader.Send(caps)
		if id := moodFrom(c.reader, info, c.ownerBare); id != "first" {
			t.Fatalf("%s got %s's mood %s, want the last one", c.reader.JID, c.ownerBare, id)
		}
		publish(c.owner, "second", "sleepy")
		if id := moodFrom(c.reader, info, c.ownerBare); id != "second" {
			t.Fatalf("%s got %s's mood %s, want the new one", c.reader.JID, c.ownerBare, id)
		}
	}
}

func isMessage(el *xmlstream.Element) bool { return el.Name.Local == "message" }

func isIQ(id string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool { return el.Name.Local == "iq" && el.Attr("id") == id }
}

// needProsody fails the test when Prosody is missing, unless
// XMPPD_SKIP_INTEROP=1 asks to skip it. (newProsody checks for
// lua-unbound, which only Prosody's own Lua can tell.)
func needProsody(t *testing.T) {
	t.Helper()
	if os.Getenv("XMPPD_SKIP_INTEROP") == "1" {
		t.Skip("XMPPD_SKIP_INTEROP=1")
	}
	for _, prog := range []string{"prosody", "prosodyctl"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%v\ninstall Prosody with: apt-get install prosody lua-unbound (or set XMPPD_SKIP_INTEROP=1 to skip the interop tests)", err)
		}
	}
}

// prosody is a private Prosody for one test, in its own temporary
// directory, listening on 127.0.0.1 only.
type prosody struct {
	dir     string
	cfg     string // its configuration file
	c2sAddr *net.TCPAddr
	s2sPort int
	// cred runs Prosody and prosodyctl as the prosody user when the test
	// runs as root: Prosody started as root would switch to that user on
	// its own, and prosodyctl too; starting them as that user, in a
	// directory it owns, keeps root out and every file readable.
	cred *syscall.Credential

	out    lockedBuffer // Prosody's stdout and stderr
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// newProsody writes Prosody's configuration, from
// interop/prosody/prosody.cfg.lua, and a self-signed certificate for
// prosodyDomain into a new directory, with the ports to listen on and
// the SRV record that leads it to xmppd (xmppdSRV), then checks that this
// Prosody has lua-unbound. A directTLSPort of 0 opens no direct TLS
// server port.
func newProsody(t *testing.T, c2sPort, s2sPort, directTLSPort int, xmppdSRV string, ca *xmpptest.CA) *prosody {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("prosody", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: the prosody user must be able to reach the directory,
	// and t.TempDir's parent is private to the test's user.
	dir, err := os.MkdirTemp("", "xmppd-prosody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &prosody{
		dir:     dir,
		cfg:     filepath.Join(dir, "prosody.cfg.lua"),
		c2sAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c2sPort},
		s2sPort: s2sPort,
	}
	certPEM, keyPEM, caPEM, secure := prosodyCertificate(t, ca)
	conf := strings.NewReplacer(
		"@SECURE_AUTH@", strconv.FormatBool(secure),
		"@CA@", map[bool]string{true: "ca.pem", false: "none here"}[secure],
		"@DIR@", dir,
		"@DOMAIN@", prosodyDomain,
		"@C2S_PORT@", strconv.Itoa(c2sPort),
		"@S2S_PORT@", strconv.Itoa(s2sPort),
		"@XMPPD_DOMAIN@", xmppdDomain,
		"@XMPPD_SRV@", xmppdSRV,
		"@S2S_DIRECT_TLS@", map[bool]string{true: strconv.Itoa(directTLSPort), false: ""}[directTLSPort != 0],
	).Replace(string(tmpl))
	if left := regexp.MustCompile(`@[A-Z0-9_]+@`).FindString(conf); left != "" {
		t.Fatalf("prosody.cfg.lua: placeholder %s not filled in", left)
	}
	files := map[string][]byte{"prosody.cfg.lua": []byte(conf), "cert.pem": certPEM, "key.pem": keyPEM, "ca.pem": caPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("prosody")
		if err != nil {
			t.Fatalf("running as root, so Prosody must run as the prosody user (Debian's package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, name := range []string{"", "data", "prosody.cfg.lua", "cert.pem", "key.pem", "ca.pem"} {
			if err := os.Chown(filepath.Join(dir, name), uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("XMPPD_TEST_LOG") != "" {
			t.Logf("Prosody's output:\n%s\nProsody's log (%s; XMPPD_TEST_LOG=1 adds xmppd's debug log):\n%s", p.out.tail(64<<10), p.cfg, p.log())
		}
	})

	// Without lua-unbound Prosody uses its old resolver, which knows
	// nothing of the SRV record the configuration gives it.
	about := p.ctl(t, "about")
	if !strings.Contains(about, "luaunbound:") {
		t.Fatalf("Prosody has no lua-unbound, needed to find xmppd without DNS; install it with: apt-get install lua-unbound\nprosodyctl about:\n%s", about)
	}
	return p
}

// prosodyCertificate returns Prosody's certificate and key, and the
// authorities it trusts: without a CA, a self-signed certificate that it
// alone trusts; with one, a certificate from ca and ca's, and secure is
// true.
func prosodyCertificate(t *testing.T, ca *xmpptest.CA) (certPEM, keyPEM, caPEM []byte, secure bool) {
	t.Helper()
	if ca == nil {
		certPEM, keyPEM, err := certs.Generate(prosodyDomain, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return certPEM, keyPEM, certPEM, false
	}
	issued := ca.Issue(t, prosodyDomain)
	var err error
	for path, data := range map[string]*[]byte{issued.Cert: &certPEM, issued.Key: &keyPEM, ca.File: &caPEM} {
		if *data, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	return certPEM, keyPEM, caPEM, true
}

// ctl runs prosodyctl with p's configuration and returns its output.
func (p *prosody) ctl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), prosodyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "prosodyctl", append([]string{"--config", p.cfg}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("prosodyctl %s: %v\n%s", strings.Join(args, " "), errors.Join(err, ctx.Err()), out)
	}
	return string(out)
}

// register creates the account user@prosodyDomain; Prosody need not run.
func (p *prosody) register(t *testing.T, user, password string) {
	t.Helper()
	p.ctl(t, "register", user, prosodyDomain, password)
}

// start runs Prosody in the foreground and waits until its log says both
// listeners are open. It is stopped when the test ends.
func (p *prosody) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command("prosody", "--config", p.cfg, "-F")
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting Prosody: %v", err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })

	// Prosody logs each service with the ports it could bind; a port
	// taken since freePort picked it shows up as an error instead.
	want := []string{
		fmt.Sprintf("Activated service 'c2s' on [127.0.0.1]:%d", p.c2sAddr.Port),
		fmt.Sprintf("Activated service 's2s' on [127.0.0.1]:%d", p.s2sPort),
	}
	deadline := time.NewTimer(prosodyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		log := p.log()
		if i := strings.Index(log, "Failed to open server port"); i >= 0 {
			t.Fatalf("Prosody could not listen: %s", firstLine(log[i:]))
		}
		ready := true
		for _, w := range want {
			ready = ready && strings.Contains(log, w)
		}
		if ready {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("Prosody exited on start: %v", p.cmd.ProcessState)
		case <-deadline.C:
			t.Fatalf("Prosody not listening after %v", prosodyTimeout)
		case <-tick.C:
		}
	}
}

// stop asks Prosody to shut down and kills it if it has not within 10s.
func (p *prosody) stop(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Logf("Prosody did not stop on SIGTERM within 10s; killing it")
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// log returns Prosody's log file so far.
func (p *prosody) log() string {
	data, err := os.ReadFile(filepath.Join(p.dir, "prosody.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	return string(data)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for a program that picks no port of its own (Prosody). The test notices
// if someone else took it meanwhile (see prosody.start).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
