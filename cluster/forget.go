package cluster

// OnForget has f called with each key another node says changed under
// topic, so that this node drops what it cached of it. Call it before
// Join.
func (c *Cluster) OnForget(topic string, f func(key string)) { c.forgetters[topic] = f }

// Forget tells the other nodes that key changed under topic (OnForget),
// until each says it heard (tell): a node cut from NATS meanwhile hears
// it once it is back.
func (c *Cluster) Forget(topic, key string) {
	nodes, _ := c.Nodes()
	c.tell(c.all, nodes, opForget, "topic", topic, "key", key)
}

// OnLost has f called when this node may have missed some of what the
// other nodes said, its cache invalidations (Forget) among them: after
// its connection to NATS came back, or NATS dropped messages for it. f
// drops everything the node caches of what other nodes change. It runs
// before the node handles any message that arrived after. Call it before
// Join.
func (c *Cluster) OnLost(f func()) { c.losers = append(c.losers, f) }

// forgetLost calls the OnLost functions when the node reconnected to
// NATS, or NATS dropped messages for it, since run last looked: a
// message read from NATS after a reconnection is handled after them,
// since the count of reconnections grows before the node reads anything
// on the new connection. It runs on the run goroutine.
func (c *Cluster) forgetLost() {
	dropped, n := c.dropped.Swap(false), c.nc.Stats().Reconnects
	if n == c.reconnects && !dropped {
		return
	}
	c.reconnects = n
	c.log.Info("cluster: may have missed what other nodes changed; dropping what is cached of it")
	for _, f := range c.losers {
		f()
	}
}
