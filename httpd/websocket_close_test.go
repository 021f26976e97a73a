package httpd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"xmppd/xmlstream"
)

// TestWebSocketCloseEndsRead closes a WebSocket transport while its
// reader waits for the client, as a session ended by the server (a
// conflict, a resumption on another connection, a shutdown) does: the
// read returns, so that the session's reader ends.
func TestWebSocketCloseEndsRead(t *testing.T) {
	transports := make(chan *wsTransport)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"xmpp"}})
		if err != nil {
			return
		}
		transports <- newWSTransport(c, r, r.RemoteAddr, false, xmlstream.Limits{}, 5*time.Second)
	}))
	defer srv.Close()
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.CloseRead(context.Background()) // answers the server's close
		tr := <-transports
		read := make(chan error, 1)
		go func() {
			_, err := tr.ReadElement()
			read <- err
		}()
		tr.Close()
		select {
		case err := <-read:
			if err == nil {
				t.Fatalf("connection %d: a read after Close succeeded", i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d: the read still waits 10 s after Close", i)
		}
		c.CloseNow()
	}
}
