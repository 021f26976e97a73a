package cluster

// Sever cuts the node from NATS without a word, as a crash would, so that
// the other nodes find it silent.
func (c *Cluster) Sever() { c.nc.Close() }
