package extdisco_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
	"xmppd/storage/pgtest"
	"xmppd/xmlstream"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const ns = "urn:xmpp:extdisco:2"

func TestServicesAndCredentials(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) {
		c.ExternalServices = []config.ExternalService{
			{Type: "stun", Host: "stun.example.com"},
			{Type: "turn", Host: "turn.example.com", Secret: "s3cret", TTLSeconds: 600},
		}
	})
	s.AddUser(t, "juliet", xmpptest.Domain, "secret")
	juliet := xmpptest.Login(t, s, "juliet", "secret", "balcony")

	ask := func(payload string) *xmlstream.Element {
		juliet.Send("<iq type='get' id='x' to='localhost'>" + payload + "</iq>")
		return juliet.NextNamed("iq")
	}
	res := ask("<services xmlns='" + ns + "'/>")
	services := res.Child(ns, "services").ChildElements()
	if res.Attr("type") != "result" || len(services) != 2 {
		t.Fatalf("got %s, want both services", res)
	}
	stun, turn := services[0], services[1]
	if stun.Attr("port") != "3478" || stun.Attr("transport") != "udp" || stun.Attr("username") != "" {
		t.Fatalf("STUN service %s, want port 3478 over udp without credentials", stun)
	}
	checkCredentials(t, turn)

	if got := ask("<services xmlns='"+ns+"' type='turn'/>").Child(ns, "services").ChildElements(); len(got) != 1 || got[0].Attr("type") != "turn" {
		t.Fatalf("services of type turn: %v", got)
	}
	checkCredentials(t, ask("<credentials xmlns='"+ns+"'><service type='turn' host='turn.example.com'/></credentials>").Child(ns, "credentials").Child(ns, "service"))
	xmpptest.ExpectError(t, ask("<credentials xmlns='"+ns+"'><service type='stun' host='stun.example.com'/></credentials>"), "item-not-found")
	xmpptest.ExpectError(t, ask("<credentials xmlns='"+ns+"'/>"), "bad-request")
}

// checkCredentials checks the TURN REST credentials of juliet in service.
func checkCredentials(t *testing.T, service *xmlstream.Element) {
	t.Helper()
	user := service.Attr("username")
	expiry, jid, ok := strings.Cut(user, ":")
	exp, err := strconv.ParseInt(expiry, 10, 64)
	if !ok || err != nil || jid != "juliet@localhost" || service.Attr("restricted") != "1" {
		t.Fatalf("service %s, want restricted credentials '<expiry>:juliet@localhost'", service)
	}
	if d := time.Until(time.Unix(exp, 0)); d < 9*time.Minute || d > 11*time.Minute {
		t.Fatalf("credentials expire in %v, want about 10 minutes", d)
	}
	mac := hmac.New(sha1.New, []byte("s3cret"))
	mac.Write([]byte(user))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); service.Attr("password") != want {
		t.Fatalf("password %q, want %q", service.Attr("password"), want)
	}
}

func TestConfigRefusesBadServices(t *testing.T) {
	for _, es := range []config.ExternalService{
		{Type: "ftp", Host: "h"},
		{Type: "turn"},
		{Type: "turn", Host: "h", Port: 70000},
		{Type: "turn", Host: "h", Transport: "sctp"},
	} {
		c := config.Default()
		c.ExternalServices = []config.ExternalService{es}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "external_services[0]") {
			t.Errorf("%+v: Validate = %v, want it refused", es, err)
		}
	}
}
