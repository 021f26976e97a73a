package server

import (
	"context"
	"time"
)

// clusterID is the cluster node's id, or "" on a single server.
func (w *wiring) clusterID() string {
	if w.cluster == nil {
		return ""
	}
	return w.cluster.ID()
}

// resumeOutbox sends the messages for other servers that an earlier run
// kept but did not send. A single server takes them all at once; in a
// cluster, the oldest node takes those of nodes that are gone, checking
// once every node timeout, the first time after one has passed so that
// it knows the other nodes by then.
func (s *Server) resumeOutbox(ctx context.Context) {
	c := s.modules.cluster
	if c == nil {
		if err := s.s2s.Resume(ctx, []string{s.s2s.Claimer()}, 0); err != nil {
			s.log.Error("messages for other servers kept before this start wait for the next", "err", err)
		}
		return
	}
	go func() {
		tick := time.NewTicker(c.Timeout())
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if nodes, home := c.Nodes(); home {
				if err := s.s2s.Resume(ctx, nodes, c.Timeout()); err != nil {
					s.log.Error("taking over the messages for other servers of nodes that are gone", "err", err)
				}
			}
		}
	}()
}
