package server_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"xmppd/config"
	"xmppd/internal/xmpptest"
)

// TestHTTPIdleConnectionClosed makes one request on a kept-alive HTTP
// connection, then leaves it idle: the server closes it after a while
// (the time a BOSH client may go without a request), so that idle
// connections cannot pile up until the process runs out of
// file descriptors for every listener.
func TestHTTPIdleConnectionClosed(t *testing.T) {
	s := xmpptest.Start(t, func(c *config.Config) { c.HTTP.BOSHInactivitySeconds = 1 })
	c, err := net.Dial("tcp", s.HTTPAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /.well-known/host-meta HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("host-meta: %d, close %v", resp.StatusCode, resp.Close)
	}
	c.SetReadDeadline(time.Now().Add(time.Minute)) // a bound, not a timing
	if _, err := r.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("an idle kept-alive connection is still open after a minute")
	}
}
