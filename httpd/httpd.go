// Package httpd serves xmppd's HTTP endpoints: XMPP over WebSocket
// (RFC 7395) and the host-meta documents that let web clients discover it
// (XEP-0156).
package httpd

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"xmppd/c2s"
	"xmppd/xmlstream"
)

// Config configures the HTTP endpoints.
type Config struct {
	// WebSocketPath is where the WebSocket endpoint is served.
	WebSocketPath string
	// BehindTLSProxy marks WebSocket connections as encrypted because a
	// TLS-terminating proxy is in front.
	BehindTLSProxy bool
	// PublicURL is the base URL announced in host-meta; empty derives it
	// from each request.
	PublicURL string
	// Limits bound what a client may send.
	Limits xmlstream.Limits
	// WriteTimeout bounds each write to a client.
	WriteTimeout time.Duration
	// Logger receives connection problems; nil discards.
	Logger *slog.Logger
}

// Handler returns the HTTP handler for the WebSocket endpoint and the
// host-meta documents, serving streams with streams.
func Handler(cfg Config, streams *c2s.Server) http.Handler {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+cfg.WebSocketPath, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols: []string{"xmpp"},
			// Browser clients are served from other origins; the XMPP
			// stream authenticates itself, cookies play no part.
			InsecureSkipVerify: true,
		})
		if err != nil {
			log.Info("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
			return
		}
		if c.Subprotocol() != "xmpp" {
			// RFC 7395 §3.2: the xmpp subprotocol is mandatory.
			c.Close(websocket.StatusProtocolError, "the xmpp subprotocol is required")
			return
		}
		t := newWSTransport(c, r, cfg.BehindTLSProxy, cfg.Limits, cfg.WriteTimeout)
		streams.ServeTransport(context.Background(), t)
	})
	mux.HandleFunc("GET /.well-known/host-meta", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xrd+xml")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		href := webSocketURL(cfg, r)
		link := xmlstream.NewElement("http://docs.oasis-open.org/ns/xri/xrd-1.0", "Link", "rel", "urn:xmpp:alt-connections:websocket", "href", href)
		xrd := xmlstream.NewElement("http://docs.oasis-open.org/ns/xri/xrd-1.0", "XRD").AddChild(link)
		w.Write([]byte("<?xml version='1.0' encoding='utf-8'?>\n"))
		w.Write(xrd.Append(nil, ""))
	})
	mux.HandleFunc("GET /.well-known/host-meta.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		json.NewEncoder(w).Encode(map[string]any{
			"links": []map[string]string{{"rel": "urn:xmpp:alt-connections:websocket", "href": webSocketURL(cfg, r)}},
		})
	})
	return mux
}

// webSocketURL is the WebSocket endpoint's URL as announced to r's client.
func webSocketURL(cfg Config, r *http.Request) string {
	if cfg.PublicURL != "" {
		base := strings.TrimSuffix(cfg.PublicURL, "/")
		base = strings.Replace(base, "https://", "wss://", 1)
		base = strings.Replace(base, "http://", "ws://", 1)
		return base + cfg.WebSocketPath
	}
	scheme := "ws"
	if r.TLS != nil || cfg.BehindTLSProxy {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + cfg.WebSocketPath
}
