//go:build linux

package c2s

import (
	"sync"
	"syscall"
)

// idleWatch wakes parked readers (park.go) when their socket becomes
// readable: one epoll instance and one goroutine for all of them, so a
// parked session holds no goroutine and no stack at all.
//
// The sockets stay registered with Go's own poller as well; the two do
// not interfere, since nothing waits on Go's side while a session is
// parked. A socket closed here is removed from the epoll set by the
// kernel without an event, so closing a parked transport must go through
// unpark (tcpTransport.Close does).
type idleWatch struct {
	start sync.Once
	epfd  int // -1: epoll is unavailable, park reports false

	mu      sync.Mutex
	waiting map[int]*tcpTransport // by file descriptor
}

// idle is the watcher of every parked TCP session of the process.
var idle idleWatch

// park registers fd, the socket of t, to call wake in a new goroutine
// once the socket is readable, hung up or failed, or t is closed. It
// reports false when it could not, and wake is then not called.
func (w *idleWatch) park(t *tcpTransport, fd int, wake func()) bool {
	w.start.Do(w.open)
	if w.epfd < 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t.wake, t.parkedFD = wake, fd
	w.waiting[fd] = t
	// Level-triggered: bytes that arrived before this call wake at once.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(w.waiting, fd)
		t.wake = nil
		return false
	}
	return true
}

// unpark wakes t's parked reader now, if t is parked.
func (w *idleWatch) unpark(t *tcpTransport) {
	w.mu.Lock()
	wake := w.release(t)
	w.mu.Unlock()
	if wake != nil {
		go wake()
	}
}

// release forgets t's registration and returns its wake function, or nil
// when t is not parked. w.mu is held.
func (w *idleWatch) release(t *tcpTransport) func() {
	if t.wake == nil {
		return nil
	}
	wake := t.wake
	syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, t.parkedFD, nil)
	delete(w.waiting, t.parkedFD)
	t.wake = nil
	return wake
}

// open creates the epoll instance and starts the goroutine that waits on
// it.
func (w *idleWatch) open() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		w.epfd = -1
		return
	}
	w.epfd, w.waiting = fd, make(map[int]*tcpTransport)
	go w.run()
}

// run wakes the readers of the sockets epoll reports, forever.
func (w *idleWatch) run() {
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		w.mu.Lock()
		for _, ev := range events[:n] {
			if t := w.waiting[int(ev.Fd)]; t != nil {
				if wake := w.release(t); wake != nil {
					go wake()
				}
			}
		}
		w.mu.Unlock()
	}
}
