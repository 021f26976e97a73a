// Package cluster joins several xmppd nodes that share one PostgreSQL
// database into one server, talking over NATS.
//
// Every node mirrors the session table of the others: each change to a
// node's own sessions (bound, presence, marks, gone) is broadcast with a
// sequence number, and a node that misses one, or meets a node it does
// not know, asks that node for its whole table. With the mirrors, each
// node's router applies RFC 6121's delivery rules to the account's
// sessions on all nodes, and hands a stanza for a session elsewhere to
// that session's node, which queues it for the client as it is.
//
// Nodes announce themselves with a heartbeat; one not heard from within
// the timeout is gone, and its sessions with it. The oldest node still
// there tells their contacts that they went offline.
//
// Services that keep state in memory, such as multi-user chat rooms, run
// on one node at a time, the oldest (Singleton); the others forward
// their stanzas to it.
//
// Subjects, under the configured prefix P:
//
//	P.all        heartbeats, session changes, cache invalidations, departures
//	P.node.<id>  stanzas, ends and table requests and answers for one node
package cluster
