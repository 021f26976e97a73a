package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"mellium.im/xmpp/jid"

	"xmppd/router"
	"xmppd/xmlstream"
)

// Operations, named in each message's "op" header. The other headers
// each operation carries are listed beside it.
const (
	opBeat      = "beat"      // node, started, seq, held, acks: a heartbeat
	opBye       = "bye"       // node: the node is leaving
	opSet       = "set"       // node, seq; body: a session's state (JSON)
	opDel       = "del"       // node, seq, jid: a session is gone
	opSync      = "sync"      // node: asks for the whole table, answered to that node
	opTable     = "table"     // node, started, seq; body: the whole table (JSON)
	opDeliver   = "deliver"   // node, to, receipt (optional); body: a stanza for the session to
	opSafe      = "safe"      // receipt: the stanza delivered under it is safe
	opEnd       = "end"       // node, id, to, condition, text: end the session to, acknowledged (opAck)
	opAck       = "ack"       // node, id: the node heard what it was told under id (tell)
	opComponent = "component" // from, to, hops; body: a stanza for a Singleton
	opExternal  = "external"  // domain; body: a stanza for an external component held by the node
	opForget    = "forget"    // node, id, topic, key: drop a cached key (Forget), acknowledged (opAck)
	// node, previd, account: end a resumable session (EndResumable),
	// answered with found and handled
	opEndResumable = "end-resumable"
	// node, to: end the session to, which a new session on the asking node
	// replaces (Replace), answered once it is gone
	opReplace = "replace"
)

// message returns a NATS message with the op header and the given header
// pairs.
func message(subject, op string, body []byte, kv ...string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set("op", op)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Header.Set(kv[i], kv[i+1])
	}
	m.Data = body
	return m
}

func headerUint(m *nats.Msg, key string) uint64 {
	n, _ := strconv.ParseUint(m.Header.Get(key), 10, 64)
	return n
}

func headerInt(m *nats.Msg, key string) int64 {
	n, _ := strconv.ParseInt(m.Header.Get(key), 10, 64)
	return n
}

func headerJID(m *nats.Msg, key string) (jid.JID, error) {
	j, err := jid.Parse(m.Header.Get(key))
	if err != nil {
		return jid.JID{}, fmt.Errorf("cluster: header %s: %w", key, err)
	}
	return j, nil
}

// encodeStanza is st as the body of a message.
func encodeStanza(st *xmlstream.Element) []byte { return st.Append(nil, "") }

// wireState is a router.SessionState in JSON.
type wireState struct {
	JID       string   `json:"jid"`
	Available bool     `json:"available,omitempty"`
	Priority  int      `json:"priority,omitempty"`
	Presence  string   `json:"presence,omitempty"`
	Marks     []string `json:"marks,omitempty"`
	Bound     int64    `json:"bound,omitempty"` // Unix nanoseconds
}

func toWire(s router.SessionState) wireState {
	w := wireState{JID: s.JID.String(), Available: s.Available, Priority: s.Priority, Marks: s.Marks}
	if !s.Bound.IsZero() {
		w.Bound = s.Bound.UnixNano()
	}
	if s.Presence != nil {
		w.Presence = string(encodeStanza(s.Presence))
	}
	return w
}

func (w wireState) state(lim xmlstream.Limits) (router.SessionState, error) {
	j, err := jid.Parse(w.JID)
	if err != nil {
		return router.SessionState{}, fmt.Errorf("cluster: session %q: %w", w.JID, err)
	}
	s := router.SessionState{JID: j, Available: w.Available, Priority: w.Priority, Marks: w.Marks}
	if w.Bound != 0 {
		s.Bound = time.Unix(0, w.Bound)
	}
	if w.Presence != "" {
		if s.Presence, err = xmlstream.ParseElement([]byte(w.Presence), lim); err != nil {
			return router.SessionState{}, fmt.Errorf("cluster: presence of %s: %w", w.JID, err)
		}
	}
	return s, nil
}

func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("cluster: encoding " + err.Error()) // only for types of this package, which always encode
	}
	return b
}
