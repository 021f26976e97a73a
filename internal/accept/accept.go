// Package accept runs the accept loop of the stream servers' listeners.
package accept

import (
	"errors"
	"net"
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
