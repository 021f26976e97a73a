package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
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
		{"login", []string{"-kex", "hybrid", "-warmup=false"}},
		{"idle", []string{"-pid", strconv.Itoa(os.Getpid()), "-settle", "0s"}},
		{"chat", []string{"-rate", "50", "-duration", "1s", "-drain", "3s"}},
		{"chat", []string{"-rate", "20", "-duration", "500ms", "-ladder", "-ladder-steps", "2"}},
		{"mam", []string{"-fill", "4", "-page", "3", "-rate", "100"}},
		{"muc", []string{"-senders", "2", "-rate", "20", "-duration", "1s"}},
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

// TestMUCRooms runs the muc scenario over several rooms and checks that
// every room got its occupants and the worst room is reported.
func TestMUCRooms(t *testing.T) {
	srv := xmpptest.Start(t)
	for i := range 3 {
		srv.AddUser(t, "load"+strconv.Itoa(i), xmpptest.Domain, "pw")
	}
	port := strconv.Itoa(srv.C2SAddr.(*net.TCPAddr).Port)
	var stdout, stderr bytes.Buffer
	code := run([]string{"muc", "-port", port, "-password", "pw", "-n", "8", "-c", "3", "-accounts", "3", "-timeout", "1m",
		"-rooms", "4", "-senders", "1", "-rate", "40", "-duration", "1s", "-max-room-p99", "2s"}, &stdout, &stderr)
	var rep struct {
		OK     bool
		Result mucResult
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	r := rep.Result
	if code != 0 || !rep.OK || r.Rooms != 4 || r.Occupants != 8 || r.Senders != 1 || len(r.Steps) != 1 {
		t.Fatalf("exit %d, report %+v\nstderr:\n%s", code, rep, stderr.String())
	}
	st := r.Steps[0]
	// Every message goes to one room of two occupants.
	if st.Sent == 0 || st.Expected != 2*int64(st.Sent) || st.Delivered != st.Expected || st.Duplicates != 0 {
		t.Errorf("sent %d, expected %d, delivered %d, duplicates %d: want 2 copies of each", st.Sent, st.Expected, st.Delivered, st.Duplicates)
	}
	rr := st.Rooms
	if rr == nil || rr.Rooms != 4 || rr.Measured < 1 || !strings.HasPrefix(rr.WorstRoom, "xmppload-") ||
		!strings.HasSuffix(rr.WorstRoom, "@conference.localhost") || rr.WorstP99MS <= 0 || rr.WorstP99MS < rr.MedianP99MS || rr.WorstP99MS > st.LatencyMS.Max {
		t.Errorf("rooms report %+v (overall latency %+v)", rr, st.LatencyMS)
	}
	if !strings.Contains(stderr.String(), "worst room p99") {
		t.Errorf("summary without the worst room:\n%s", stderr.String())
	}
}

// TestRoomsOptions checks the checks of -rooms.
func TestRoomsOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-n", "20", "-rooms", "4"}, true},
		{[]string{"-n", "20"}, true},
		{[]string{"-n", "21", "-rooms", "4"}, false},
		{[]string{"-n", "20", "-rooms", "0"}, false},
		{[]string{"-n", "20", "-rooms", "2", "-room", "r@conference.localhost"}, false},
		{[]string{"-n", "20", "-rooms", "2", "-max-room-p99", "-1s"}, false},
	} {
		o, err := parseOptions(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.args, err, tc.ok)
		}
		if err == nil && o.roomP99() != time.Second {
			t.Errorf("%q: room p99 limit %s, want -max-p99's 1s", tc.args, o.roomP99())
		}
	}
	if o, err := parseOptions([]string{"-max-room-p99", "100ms"}, io.Discard); err != nil || o.roomP99() != 100*time.Millisecond {
		t.Errorf("-max-room-p99 100ms: %v, %v", o, err)
	}
}

// TestKeyExchange checks which TLS groups -kex offers.
func TestKeyExchange(t *testing.T) {
	for kex, want := range map[string][]tls.CurveID{"x25519": {tls.X25519}, "hybrid": nil} {
		o, err := parseOptions([]string{"-kex", kex}, io.Discard)
		if err != nil {
			t.Fatalf("-kex %s: %v", kex, err)
		}
		if got := tlsConfig(o).CurvePreferences; !slices.Equal(got, want) {
			t.Errorf("-kex %s offers %v, want %v (nil: Go's default, hybrid first)", kex, got, want)
		}
	}
	if _, err := parseOptions([]string{"-kex", "p256"}, io.Discard); err == nil {
		t.Error("-kex p256 accepted")
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
