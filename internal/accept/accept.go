// Package accept runs the stream servers' listeners: the accept loop,
// and the group of connections they serve until shutdown.
package accept

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Serve accepts connections on l and hands each to handle, until Accept
// fails. It returns nil when stopping reports that the server closed l
// on purpose, and Accept's error otherwise; timeouts are retried.
func Serve(l net.Listener, stopping func() bool, handle func(net.Conn)) error {
	for {
		nc, err := l.Accept()
		if err != nil {
			if stopping() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		handle(nc)
	}
}

// Group accepts a server's connections on its listeners, serves each on
// a goroutine of its own, and ends them all at shutdown. Its zero value
// is ready to use; C identifies a served connection.
type Group[C comparable] struct {
	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[C]bool
	stopping  bool
	wg        sync.WaitGroup
}

// Serve accepts connections on l until Stop: open makes each one's C,
// and serve serves it. It returns net.ErrClosed when the group is
// already stopping.
func (g *Group[C]) Serve(l net.Listener, open func(net.Conn) C, serve func(C)) error {
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		l.Close()
		return net.ErrClosed
	}
	if g.listeners == nil {
		g.listeners, g.conns = map[net.Listener]bool{}, map[C]bool{}
	}
	g.listeners[l] = true
	g.mu.Unlock()
	return Serve(l, g.isStopping, func(nc net.Conn) {
		c := open(nc)
		if !g.track(c) {
			nc.Close()
			return
		}
		go func() {
			defer g.untrack(c)
			serve(c)
		}()
	})
}

func (g *Group[C]) isStopping() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopping
}

// track adds a connection, unless the group is stopping.
func (g *Group[C]) track(c C) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return false
	}
	g.conns[c] = true
	g.wg.Add(1)
	return true
}

func (g *Group[C]) untrack(c C) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// Stop closes the listeners, accepts no more connections, and has end
// end each served one, on a goroutine of its own.
func (g *Group[C]) Stop(end func(C)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopping = true
	for l := range g.listeners {
		l.Close()
	}
	for c := range g.conns {
		go end(c)
	}
}

// Len returns how many connections the group serves.
func (g *Group[C]) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Wait waits until every served connection is done, or ctx ends.
func (g *Group[C]) Wait(ctx context.Context) error { return Wait(ctx, &g.wg) }

// Wait waits for wg, or until ctx ends.
func Wait(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
