package localpg

import "syscall"

// setParentDeathSignal asks the kernel to send postgres a fast-shutdown
// signal when the thread that started it ends, that is when xmppd exits,
// however it exits.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGINT
}
