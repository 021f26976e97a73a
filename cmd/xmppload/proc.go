package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStatus is what the tool reads from /proc/<pid>/status.
type procStatus struct {
	RSSKiB  int64 `json:"rss_kib"`     // VmRSS
	HWMKiB  int64 `json:"rss_hwm_kib"` // VmHWM, the peak RSS
	Threads int64 `json:"threads"`
}

// readStatus reads the memory figures of process pid ("self" for the tool).
func readStatus(pid string) (procStatus, error) {
	f, err := os.Open(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return procStatus{}, fmt.Errorf("reading process status: %w", err)
	}
	defer f.Close()
	var st procStatus
	fields := map[string]*int64{"VmRSS:": &st.RSSKiB, "VmHWM:": &st.HWMKiB, "Threads:": &st.Threads}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) >= 2 && fields[w[0]] != nil {
			*fields[w[0]], _ = strconv.ParseInt(w[1], 10, 64)
		}
	}
	if st.RSSKiB == 0 {
		return st, fmt.Errorf("no VmRSS in /proc/%s/status", pid)
	}
	return st, sc.Err()
}

// pidListening finds the process with a TCP socket listening on port: the
// socket's inode from /proc/net/tcp{,6}, then the process holding it in
// /proc/*/fd. It needs permission to read the other process's fds.
func pidListening(port int) (int, error) {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			w := strings.Fields(line)
			// local_address is HEXIP:HEXPORT; state 0A is LISTEN.
			if len(w) < 10 || w[3] != "0A" {
				continue
			}
			if _, hexPort, ok := strings.Cut(w[1], ":"); ok {
				if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
					inodes["socket:["+w[9]+"]"] = true
				}
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("no socket listening on port %d", port)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			return strconv.Atoi(strings.Split(fd, "/")[2])
		}
	}
	return 0, fmt.Errorf("no readable process holds the socket listening on port %d (pass -pid)", port)
}

// maxOpenFiles reads the soft "Max open files" limit of process pid.
func maxOpenFiles(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			if w := strings.Fields(rest); len(w) > 0 {
				return strconv.ParseInt(w[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no open files limit in /proc/%d/limits", pid)
}

// raiseFileLimit makes the soft RLIMIT_NOFILE the hard limit and returns
// both. The Go runtime already raises it to hard-1 at start (Go 1.19+,
// syscall package init on Unix); this takes the last one and reports what
// the tool really has.
func raiseFileLimit() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return lim.Cur, lim.Max, nil
}

// clockTicks is USER_HZ, the unit of CPU times in /proc/<pid>/stat: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// cpuTime reads the user plus system CPU time process pid ("self" for the
// tool) has used.
func cpuTime(pid string) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading process CPU time: %w", err)
	}
	// The command name in parentheses may contain spaces; the fields after
	// it start with the state (field 3), so utime and stime (fields 14,
	// 15) are the 12th and 13th after the closing parenthesis.
	i := strings.LastIndex(string(data), ") ")
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%s/stat", pid)
	}
	w := strings.Fields(string(data[i+2:]))
	if len(w) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%s/stat", pid)
	}
	utime, err1 := strconv.ParseInt(w[11], 10, 64)
	stime, err2 := strconv.ParseInt(w[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%s/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// treeCPUTime is the CPU time of process pid and of every process below it
// (xmppd's private PostgreSQL, Prosody's or ejabberd's helpers): a
// process's own figures leave out children it has not yet waited for.
func treeCPUTime(pid int) (time.Duration, error) {
	total, err := cpuTime(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		data, err := os.ReadFile(f)
		i := strings.LastIndex(string(data), ") ")
		if err != nil || i < 0 {
			continue
		}
		w := strings.Fields(string(data[i+2:]))
		child, _ := strconv.Atoi(strings.Split(f, "/")[2])
		if len(w) > 1 {
			if ppid, err := strconv.Atoi(w[1]); err == nil {
				children[ppid] = append(children[ppid], child)
			}
		}
	}
	queue := children[pid]
	for len(queue) > 0 {
		p := queue[0]
		queue = append(queue[1:], children[p]...)
		if d, err := cpuTime(strconv.Itoa(p)); err == nil {
			total += d
		}
	}
	return total, nil
}

// cpuReport is the CPU time the server and the tool used during a phase.
type cpuReport struct {
	ServerS          float64 `json:"server_s,omitempty"`
	ClientS          float64 `json:"client_s"`
	ServerMSPerLogin float64 `json:"server_ms_per_login,omitempty"`
	ClientMSPerLogin float64 `json:"client_ms_per_login"`
}

// cpuMeter measures the CPU time of the server (pid 0: unknown) with its
// child processes, and of the tool from its creation until done is called with the number of logins.
func cpuMeter(pid int) (done func(logins int) cpuReport) {
	server := func() time.Duration {
		if pid == 0 {
			return 0
		}
		d, _ := treeCPUTime(pid)
		return d
	}
	client := func() time.Duration { d, _ := cpuTime("self"); return d }
	s0, c0 := server(), client()
	return func(logins int) cpuReport {
		s, c := server()-s0, client()-c0
		r := cpuReport{ServerS: seconds(s), ClientS: seconds(c)}
		if logins > 0 {
			r.ServerMSPerLogin = round3(float64(s.Milliseconds()) / float64(logins))
			r.ClientMSPerLogin = round3(float64(c.Milliseconds()) / float64(logins))
		}
		return r
	}
}

// loadAvg returns the three load averages from /proc/loadavg, or "".
func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	w := strings.Fields(string(data))
	if len(w) < 3 {
		return ""
	}
	return strings.Join(w[:3], " ")
}
