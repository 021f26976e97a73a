package cluster

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// Sever cuts the node from NATS without a word, as a crash would, so that
// the other nodes find it silent.
func (c *Cluster) Sever() { c.nc.Close() }

// Subject is the subject of the messages for this node alone.
func (c *Cluster) Subject() string { return c.nodeSubject(c.id) }

// OpDeliver is the operation of a stanza for one of a node's sessions.
const OpDeliver = opDeliver

// Watch subscribes, on a NATS connection of its own to url, to what is
// sent to the node alone, and returns those messages, as the node gets
// them, and what ends the subscription; the test's end ends it too.
func (c *Cluster) Watch(t testing.TB, url string) (<-chan *nats.Msg, func()) {
	t.Helper()
	nc := connect(t, url)
	ch := make(chan *nats.Msg, 1024)
	if _, err := nc.ChanSubscribe(c.Subject(), ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch, nc.Close
}

// DeliverFrom hands st to the node for its session to, from a NATS
// connection of its own to url, as another node does, and returns once
// NATS has it.
func (c *Cluster) DeliverFrom(t testing.TB, url, to, st string) {
	t.Helper()
	nc := connect(t, url)
	defer nc.Close()
	if err := nc.PublishMsg(message(c.Subject(), opDeliver, []byte(st), "node", "test", "to", to)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
