package push

import (
	"context"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"xmppd/stanza"
	"xmppd/xmlstream"
)

// wake is what one notification is of: the last message folded into
// it, how many were, and, for devices without a session (Received), the
// marks of the account's sessions when the last came.
type wake struct {
	st     *xmlstream.Element
	count  int
	marked map[string]bool
}

// wakeKey names the notifications of one kind for account: those that
// fold into each other.
func wakeKey(kind string, account jid.JID) string { return kind + "\x00" + account.String() }

// fold has send publish the notification w, of w.count messages, at once,
// unless a notification of the same key is under way: then w is folded
// into the one that follows it, which goes out when that one is done, of
// the last message folded and counting them all. So a key has at most
// one notification under way and one waiting, however fast messages
// come, and an app server that takes its time is sent fewer. The
// notifications of an account go out one after the other (inOrder).
//
// m.waking holds a key while its notifications are under way; a zero
// wake there means nothing is folded yet.
func (m *Module) fold(key string, account jid.JID, w wake, send func(context.Context, wake)) {
	m.wakeMu.Lock()
	if next, busy := m.waking[key]; busy {
		w.count += next.count
		m.waking[key] = w
		m.wakeMu.Unlock()
		return
	}
	m.waking[key] = wake{}
	m.wakeMu.Unlock()
	go func() {
		for w.st != nil {
			m.inOrder(account, func() {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				send(ctx, w)
			})
			m.wakeMu.Lock()
			w = m.waking[key]
			if w.st == nil {
				delete(m.waking, key)
			} else {
				m.waking[key] = wake{}
			}
			m.wakeMu.Unlock()
		}
	}()
}

// countUnread counts n messages for of: an account (bare JID), of
// messages stored while it is offline, or a session (full JID), of those
// it got while waiting to be resumed. The counts live in memory: after a
// restart, or on another node of a cluster, they start again from the
// next message, which undercounts. Beyond maxCached they start again
// empty.
func (m *Module) countUnread(of jid.JID, n int) {
	m.wakeMu.Lock()
	defer m.wakeMu.Unlock()
	if len(m.unread) >= maxCached {
		clear(m.unread)
	}
	m.unread[of.String()] += n
}

// unreadOf returns how many messages were counted for of (countUnread)
// since its count was last reset: the summary's message-count.
func (m *Module) unreadOf(of jid.JID) int {
	m.wakeMu.Lock()
	defer m.wakeMu.Unlock()
	return m.unread[of.String()]
}

// resetUnread forgets the count of of, which has or will have read its
// messages.
func (m *Module) resetUnread(of jid.JID) {
	m.wakeMu.Lock()
	delete(m.unread, of.String())
	m.wakeMu.Unlock()
}

// available forgets the count of the account of session, whose
// available presence st takes its stored messages (XEP-0160: a
// non-negative priority).
func (m *Module) available(_ context.Context, session jid.JID, st *xmlstream.Element) {
	if p := st.Child(stanza.NSClient, "priority"); p != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(p.Text())); err == nil && n < 0 {
			return
		}
	}
	m.resetUnread(session.Bare())
}
