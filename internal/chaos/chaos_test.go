// Package chaos kills a running xmppd in the middle of chat traffic and
// checks the promise of DESIGN.md §4: nothing the server acknowledged
// (XEP-0198 <a h/>) is lost.
package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	senders   = 4
	receivers = 4
	perSender = 3000 // messages each sender tries to send
	killAfter = 2000 // acknowledged messages, in all, before kill -9
	password  = "chaos pass"
)

// TestKillNineLosesNothingAcknowledged runs chat traffic with stream
// management between senders and receivers, kills xmppd with SIGKILL,
// restarts it on the same database and logs the receivers in again.
// Every message the server acknowledged to its sender must have reached a
// receiver, before the kill or after the new login (offline storage).
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	var users []string
	for i := range senders {
		users = append(users, fmt.Sprintf("s%d", i))
	}
	for i := range receivers {
		users = append(users, fmt.Sprintf("r%d", i))
	}
	bin, cfgPath, tcpAddr := setup(t, users...)

	proc := xmpptest.Serve(t, bin, cfgPath)
	recv := &tally{got: map[string]int{}}
	var rwg sync.WaitGroup
	for i := range receivers {
		c := login(t, tcpAddr, fmt.Sprintf("r%d", i))
		sm := c.EnableSM()
		c.Online()
		rwg.Add(1)
		go func() { defer rwg.Done(); receive(sm, recv) }()
	}
	acks := make([]*ackState, senders)
	var swg sync.WaitGroup
	killed := make(chan struct{})
	var killOnce sync.Once
	for i := range senders {
		c := login(t, tcpAddr, fmt.Sprintf("s%d", i))
		c.EnableSM()
		acks[i] = &ackState{}
		swg.Add(2)
		go func() { defer swg.Done(); readAcks(c, acks[i]) }()
		go func() { defer swg.Done(); send(c, i, acks[i], killed) }()
	}
	// Kill once enough traffic was acknowledged, mid-stream.
	go func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			total := 0
			for _, a := range acks {
				total += int(a.get())
			}
			if total >= killAfter {
				break
			}
			runtimeGosched()
		}
		killOnce.Do(func() { proc.Process.Kill(); close(killed) })
	}()
	swg.Wait()
	rwg.Wait()
	killOnce.Do(func() { proc.Process.Kill(); close(killed) })
	proc.Wait()

	// Same database, new process; the receivers log in again.
	proc2 := xmpptest.Serve(t, bin, cfgPath)
	defer proc2.Process.Kill()
	for i := range receivers {
		c := login(t, tcpAddr, fmt.Sprintf("r%d", i))
		c.Send("<presence/>")
		c.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		for {
			el := c.Next()
			if el.Name.Local == "iq" && el.Attr("id") == "barrier" {
				break
			}
			if el.Name.Local == "message" {
				recv.add(el)
			}
		}
	}

	// Count.
	var acked, lost, sentUnacked, unackedDelivered, dups int
	for i, a := range acks {
		for n := 1; n <= int(a.sent); n++ {
			body := fmt.Sprintf("s%d-%d", i, n)
			got := recv.got[body]
			if got > 1 {
				dups += got - 1
			}
			if uint32(n) <= a.acked {
				acked++
				if got == 0 {
					lost++
					if lost <= 10 {
						t.Errorf("acknowledged message %s was not delivered", body)
					}
				}
			} else {
				sentUnacked++
				if got > 0 {
					unackedDelivered++
				}
			}
		}
	}
	t.Logf("chaos: acknowledged %d, delivered of those %d, lost %d; sent but not acknowledged %d (delivered %d); duplicates %d; received in all %d",
		acked, acked-lost, lost, sentUnacked, unackedDelivered, dups, recv.total)
	if acked < killAfter {
		t.Errorf("only %d messages acknowledged before the kill; want at least %d", acked, killAfter)
	}
}

// TestKillNineKeepsUnacknowledgedOfflineMessages stores messages for an
// account that is offline, hands them to a stream-managed login that does
// not acknowledge them, kills xmppd with SIGKILL and starts it again: the
// next login gets them (XEP-0198 §4: unacknowledged stanzas are not yet
// delivered).
func TestKillNineKeepsUnacknowledgedOfflineMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, cfgPath, addr := setup(t, "sender", "receiver")
	proc := xmpptest.Serve(t, bin, cfgPath)
	want := []string{"offline-1", "offline-2", "offline-3"}
	sender := login(t, addr, "sender")
	for _, body := range want {
		sender.Send("<message type='chat' to='receiver@localhost'><body>" + body + "</body></message>")
	}
	sender.Ping() // routing is synchronous: the messages are stored

	receiver := login(t, addr, "receiver")
	receiver.EnableSM().AutoAck = false
	if got := comeOnline(receiver); !slices.Equal(got, want) {
		t.Fatalf("first login got %q; want %q", got, want)
	}
	proc.Process.Kill()
	proc.Wait()

	xmpptest.Serve(t, bin, cfgPath)
	if got := comeOnline(login(t, addr, "receiver")); !slices.Equal(got, want) {
		t.Fatalf("after kill -9 the next login got %q; want %q again", got, want)
	}
}

// comeOnline sends initial presence and returns the bodies of the messages
// that come before the answer to a ping sent after it.
func comeOnline(c *xmpptest.Client) []string {
	c.Send("<presence/>")
	c.Send("<iq type='get' id='barrier' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
	var bodies []string
	for {
		el := c.Next()
		if el.Name.Local == "iq" && el.Attr("id") == "barrier" {
			return bodies
		}
		if el.Name.Local == "message" {
			bodies = append(bodies, el.Child("jabber:client", "body").Text())
		}
	}
}

// setup builds xmppd, writes its configuration for a fresh database and a
// free port, and creates the accounts users.
func setup(t *testing.T, users ...string) (bin, cfgPath string, addr net.Addr) {
	bin = xmpptest.BuildXMPPD(t)
	dir := t.TempDir()
	listen := xmpptest.FreeAddr(t)
	cfgPath = filepath.Join(dir, "xmppd.toml")
	cfg := fmt.Sprintf("data_dir = %q\nlog_level = 'info'\n[database]\nurl = %q\n[c2s]\nlisten = %q\nlisten_tls = ''\n[http]\nlisten = ''\nlisten_tls = ''\n",
		filepath.Join(dir, "data"), pgtest.URL(t), listen)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		addUser(t, bin, cfgPath, u)
	}
	addr, err := net.ResolveTCPAddr("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	return bin, cfgPath, addr
}

// ackState is what the server acknowledged to one sender.
type ackState struct {
	mu    sync.Mutex
	acked uint32 // h of the server's last <a/>
	sent  uint32 // messages written
}

func (a *ackState) get() uint32 { a.mu.Lock(); defer a.mu.Unlock(); return a.acked }

// tally counts message bodies received.
type tally struct {
	mu    sync.Mutex
	got   map[string]int
	total int
}

func (r *tally) add(m *xmlstream.Element) {
	body := m.Child("jabber:client", "body")
	if body == nil {
		return
	}
	r.mu.Lock()
	r.got[body.Text()]++
	r.total++
	r.mu.Unlock()
}

// send writes numbered messages to the receivers in turn, with <r/> after
// every 5, until done or the connection fails.
func send(c *xmpptest.Client, i int, a *ackState, killed chan struct{}) {
	for n := 1; n <= perSender; n++ {
		select {
		case <-killed:
			return
		default:
		}
		msg := fmt.Sprintf("<message to='r%d@localhost' type='chat' id='m%d'><body>s%d-%d</body></message>", (i+n)%receivers, n, i, n)
		if n%5 == 0 {
			msg += "<r xmlns='urn:xmpp:sm:3'/>"
		}
		c.Conn.SetWriteDeadline(time.Now().Add(xmpptest.ReadTimeout))
		if _, err := c.Conn.Write([]byte(msg)); err != nil {
			return
		}
		a.mu.Lock()
		a.sent = uint32(n) // written in full: the server may have handled it
		a.mu.Unlock()
	}
	// Ask for the final count; the reader stops on the kill or an error.
	c.Conn.Write([]byte("<r xmlns='urn:xmpp:sm:3'/>"))
	<-killed
}

// readAcks records the server's <a h/> for a sender, until the connection
// ends.
func readAcks(c *xmpptest.Client, a *ackState) {
	var h uint32
	for {
		el, err := c.NextErr()
		if err != nil {
			return
		}
		switch {
		case el.Name.Space == xmpptest.NSSM && el.Name.Local == "a":
			v, _ := strconv.ParseUint(el.Attr("h"), 10, 32)
			a.mu.Lock()
			a.acked = uint32(v)
			a.mu.Unlock()
		case el.Name.Space == xmpptest.NSSM && el.Name.Local == "r":
			c.Conn.Write([]byte("<a xmlns='urn:xmpp:sm:3' h='" + strconv.FormatUint(uint64(h), 10) + "'/>"))
		case el.Name.Space == "jabber:client":
			h++
		}
	}
}

// receive records messages and acknowledges them when asked, until the
// connection ends.
func receive(sm *xmpptest.SM, r *tally) {
	c := sm.C
	for {
		el, err := c.NextErr()
		if err != nil {
			return
		}
		switch {
		case el.Name.Space == xmpptest.NSSM && el.Name.Local == "r":
			c.Conn.Write([]byte("<a xmlns='urn:xmpp:sm:3' h='" + strconv.FormatUint(uint64(sm.H), 10) + "'/>"))
		case el.Name.Space == "jabber:client":
			sm.H++
			if el.Name.Local == "message" {
				r.add(el)
			}
		}
	}
}

func login(t *testing.T, addr net.Addr, user string) *xmpptest.Client {
	t.Helper()
	c := xmpptest.Dial(t, addr)
	c.Authenticated(user, password)
	c.Bind("chaos")
	return c
}

func addUser(t *testing.T, bin, cfgPath, user string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-c", cfgPath, "user", "add", user+"@localhost")
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add %s: %v\n%s", user, err, out)
	}
}

// runtimeGosched lets the senders run while the killer polls the counts.
func runtimeGosched() { time.Sleep(time.Millisecond) }
