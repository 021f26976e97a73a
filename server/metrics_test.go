package server_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// scrape returns the metrics served at addr, by sample (name and labels).
func scrape(t *testing.T, s *xmpptest.Server) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.MetricsAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// TestMetrics: a login, a failed one and a chat message show in the
// metrics, with the session, the routed message and its archiving.
func TestMetrics(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" })
	s.AddUser(t, "juliet", xmpptest.Domain, "pw")
	s.AddUser(t, "romeo", xmpptest.Domain, "pw")
	before := scrape(t, s)
	if before["xmppd_sessions"] != 0 || before["xmppd_start_time_seconds"] == 0 || before[`xmppd_build_info{version="0.1.0-dev"}`] != 1 {
		t.Fatalf("at start: %v", before)
	}
	for _, host := range []string{xmpptest.Domain, xmpptest.OtherDomain} {
		if expiry := before[`xmppd_certificate_expiry_seconds{host="`+host+`"}`]; expiry < float64(time.Now().Add(30*24*time.Hour).Unix()) {
			t.Errorf("certificate expiry of %s: %v, want the generated certificate's, a year away", host, expiry)
		}
	}

	juliet := xmpptest.Login(t, s, "juliet", "pw", "balcony")
	romeo := xmpptest.Login(t, s, "romeo", "pw", "orchard")
	romeo.Online()
	c := xmpptest.Dial(t, s.C2SAddr)
	c.Open(xmpptest.Domain)
	c.Features()
	c.StartTLS(xmpptest.Domain, xmpptest.TLSConfig(xmpptest.Domain, 0))
	c.Features()
	if el := c.Authenticate(xmpptest.Mechanism{Name: "SCRAM-SHA-256"}, "juliet", "wrong"); el.Name.Local != "failure" {
		t.Fatalf("a wrong password: %s", el)
	}
	juliet.Send("<message to='romeo@localhost' type='chat'><body>hi</body></message>")
	xmpptest.ExpectBody(t, romeo.NextNamed("message"), "juliet@localhost/balcony", "hi")

	after := scrape(t, s)
	for name, want := range map[string]float64{"xmppd_sessions": 2, "xmppd_online_accounts": 2} {
		if got := after[name]; got != want {
			t.Errorf("%s is %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]float64{
		`xmppd_logins_total{result="success"}`:       2,
		`xmppd_logins_total{result="failure"}`:       1,
		`xmppd_stanzas_routed_total{kind="message"}`: 1,
		"xmppd_archived_messages_total":              1,
	} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("%s grew by %v, want %v", name, got, want)
		}
	}
	if after[`xmppd_db_connections{state="max"}`] == 0 || after["go_goroutines"] == 0 {
		t.Errorf("database or runtime figures missing: %v", after)
	}
}
