package c2s

// Parked reports whether the session of the client connected from addr
// has its reader parked with the process's epoll watcher.
func Parked(addr string) bool {
	idle.mu.Lock()
	defer idle.mu.Unlock()
	for _, t := range idle.waiting {
		if t.conn.RemoteAddr().String() == addr {
			return true
		}
	}
	return false
}
