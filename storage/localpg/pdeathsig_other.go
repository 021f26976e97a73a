//go:build unix && !linux

package localpg

import "syscall"

// setParentDeathSignal does nothing: only Linux has a parent-death signal.
// A postgres left behind by a dead xmppd is stopped by the next Start.
func setParentDeathSignal(attr *syscall.SysProcAttr) {}
