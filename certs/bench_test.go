package certs_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"xmppd/certs"
)

// BenchmarkHandshake measures one full TLS 1.3 handshake with the
// store's configuration, recording the certificate presented as the
// client streams do, both sides in this process.
func BenchmarkHandshake(b *testing.B) {
	s, err := certs.New(certs.Config{Hosts: []certs.HostCert{{Host: "v.example"}}})
	if err != nil {
		b.Fatal(err)
	}
	server := s.TLSConfig()
	client := &tls.Config{ServerName: "v.example", InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519}}
	for b.Loop() {
		sc, cc := net.Pipe()
		done := make(chan error, 1)
		go func() {
			defer sc.Close()
			tc := tls.Server(sc, server)
			err := tc.HandshakeContext(certs.WithPresented(context.Background(), new(certs.Presented)))
			if err == nil {
				_, err = tc.Write([]byte{1})
			}
			done <- err
		}()
		tc := tls.Client(cc, client)
		if _, err := io.ReadFull(tc, make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
		cc.Close()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
