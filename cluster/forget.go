package cluster

// OnForget has f called with each key another node says changed under
// topic, so that this node drops what it cached of it. Call it before
// Join.
func (c *Cluster) OnForget(topic string, f func(key string)) { c.forgetters[topic] = f }

// Forget tells the other nodes that key changed under topic (OnForget).
func (c *Cluster) Forget(topic, key string) {
	c.publish(message(c.all, opForget, nil, "topic", topic, "key", key))
}
