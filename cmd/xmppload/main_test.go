package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
	"xmppd/storage/pgtest"

	"xmppd/internal/xmpptest"
)

// TestScenarios runs each scenario briefly against an in-process xmppd.
func TestMain(m *testing.M) { pgtest.Main(m) }

func TestScenarios(t *testing.T) {
	srv := xmpptest.Start(t)
	for i := range 3 {
		srv.AddUser(t, "load"+strconv.Itoa(i), xmpptest.Domain, "pw")
	}
	port := strconv.Itoa(srv.C2SAddr.(*net.TCPAddr).Port)
	common := []string{"-port", port, "-password", "pw", "-n", "7", "-c", "3", "-accounts", "3", "-timeout", "1m"}
	for _, tc := range []struct {
		scenario string
		extra    []string
	}{
		{"login", nil},
		{"login", []string{"-mech", "SCRAM-SHA-1", "-warmup=false"}},
		{"idle", []string{"-pid", strconv.Itoa(os.Getpid()), "-settle", "0s"}},
		{"chat", []string{"-rate", "50", "-duration", "1s", "-drain", "3s"}},
		{"chat", []string{"-rate", "20", "-duration", "500ms", "-ladder", "-ladder-steps", "2"}},
		{"mam", []string{"-fill", "4", "-page", "3", "-rate", "100"}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string{tc.scenario}, common...), tc.extra...), &stdout, &stderr)
			var rep struct {
				OK     bool
				Result struct {
					Logins  loginReport
					Close   closeReport
					Dropped int
				}
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
			}
			r := rep.Result
			if code != 0 || !rep.OK || r.Logins.OK != 7 || r.Close.OK != 7 || r.Dropped != 0 {
				t.Fatalf("exit %d, report %+v\nstderr:\n%s", code, rep, stderr.String())
			}
		})
	}
}

// TestRefusesRemote checks that a non-loopback target needs -allow-remote.
func TestRefusesRemote(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"login", "-host", "192.0.2.1", "-n", "1"}, &stdout, &stderr); code != 2 || stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q: want 2 and nothing", code, stdout.String())
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		in   []time.Duration
		want latency
	}{
		{nil, latency{}},
		{[]time.Duration{3 * time.Millisecond}, latency{Count: 1, Mean: 3, P50: 3, P90: 3, P99: 3, Max: 3}},
		{ds, latency{Count: 100, Mean: 50.5, P50: 50, P90: 90, P99: 99, Max: 100}},
	} {
		if got := summarize(tc.in); got != tc.want {
			t.Errorf("summarize(%d durations) = %+v, want %+v", len(tc.in), got, tc.want)
		}
	}
}

func TestKeyCacheCountsDerivations(t *testing.T) {
	k := newKeyCache("SCRAM-SHA-256", "pw")
	for _, tc := range []struct {
		user, msg string
		want      int64
	}{
		{"a", "r=abc,s=c2FsdA==,i=4096", 1},
		{"a", "r=def,s=c2FsdA==,i=4096", 1}, // same salt: cached
		{"a", "r=def,s=c2FsdA==,i=8192", 2},
		{"b", "r=def,s=c2FsdA==,i=4096", 3}, // another Client
	} {
		k.noteServerFirst(tc.user, tc.msg)
		if got := k.derivations.Load(); got != tc.want {
			t.Errorf("after %s %q: %d derivations, want %d", tc.user, tc.msg, got, tc.want)
		}
	}
}
