//go:build !linux

package c2s

// idleWatch is the watcher of parked readers; without epoll every parked
// reader waits in a goroutine of its own (tcpTransport.waitReadable).
type idleWatch struct{}

// idle is the watcher of every parked TCP session of the process.
var idle idleWatch

// park reports false: a goroutine must wait for t.
func (idleWatch) park(t *tcpTransport, fd int, wake func()) bool { return false }

// unpark has nothing to do: a goroutine waiting for t returns when t is
// closed.
func (idleWatch) unpark(t *tcpTransport) {}
