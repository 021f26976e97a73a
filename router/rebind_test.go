package router

import (
	"runtime"
	"testing"

	"mellium.im/xmpp/jid"

	"xmppd/xmlstream"
)

// fakeSession is a bound session that drops what it is given.
type fakeSession struct{ j jid.JID }

func (f *fakeSession) JID() jid.JID                       { return f.j }
func (f *fakeSession) Deliver(st *xmlstream.Element) bool { return true }
func (f *fakeSession) End(condition, text string)         {}

// A client that reconnects with the same resource while its old session
// is still being cleaned up must not lose what the new session set up:
// the OnUnbind hooks (rooms, carbons, directed presence) name the full
// JID, so the new session is bound only after they ran for the old one.
func TestRebindWaitsForCleanUp(t *testing.T) {
	r := New(Config{Hosts: []string{"localhost"}})
	j := jid.MustParse("juliet@localhost/balcony")
	old, next := &fakeSession{j}, &fakeSession{j}
	r.Bind(old)

	entered, release := make(chan struct{}), make(chan struct{})
	r.OnUnbind(func(session jid.JID) {
		if session.Equal(j) {
			close(entered)
			<-release
		}
	})
	unbound := make(chan struct{})
	go func() {
		r.Unbind(old)
		close(unbound)
	}()
	<-entered

	bound := make(chan struct{})
	go func() {
		r.Bind(next)
		close(bound)
	}()
	// Give the binding goroutine every chance to run while the old
	// session's hook is still busy: it must stay blocked.
	for range 1000 {
		if r.isBound(next) {
			t.Fatal("the new session was bound while the old one's OnUnbind hooks still ran")
		}
		runtime.Gosched()
	}
	close(release)
	<-unbound
	<-bound
	if !r.isBound(next) {
		t.Fatal("the new session is not bound after the old one's clean-up")
	}
	if n := r.SessionCount(); n != 1 {
		t.Fatalf("%d sessions bound, want 1", n)
	}
}

// isBound reports whether s is in the session table.
func (r *Router) isBound(s Session) bool {
	for _, b := range r.Sessions() {
		if b == s {
			return true
		}
	}
	return false
}
