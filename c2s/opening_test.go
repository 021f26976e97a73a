package c2s

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"xmppd/auth"
)

// TestOpeningIsOneWrite checks that the server's stream header and what
// follows it (the features, or a stream error) leave in one write: each
// write is a system call and, under TLS, a record. net.Pipe hands a read
// the data of one write only, so the first read shows what was written
// together.
func TestOpeningIsOneWrite(t *testing.T) {
	sasl, err := auth.NewServer(auth.Config{Store: memStore{}, Secret: make([]byte, 32), FailureDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, header, want string
	}{
		{"features", fuzzHeader, "<stream:features>"},
		{"stream error", strings.Replace(fuzzHeader, "to='localhost'", "to='elsewhere.example'", 1), "<host-unknown "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := smallServer(sasl)
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				srv.ServeTransport(context.Background(), newTCPTransport(server, srv.cfg.Limits, 5*time.Second))
			}()
			client.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := client.Write([]byte(tc.header)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			n, err := client.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf[:n]); !strings.HasPrefix(got, "<?xml version='1.0'?><stream:stream ") || !strings.Contains(got, tc.want) {
				t.Errorf("first write %q: want the header and %s together", got, tc.want)
			}
			client.Close()
			<-done
		})
	}
}
