// Package httpd serves xmppd's HTTP endpoints: XMPP over WebSocket
// (RFC 7395), XMPP over BOSH (XEP-0124, XEP-0206) and the host-meta
// documents that let web clients discover them (XEP-0156).
package httpd

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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
	// BOSHPath is where the BOSH endpoint is served; empty disables it.
	BOSHPath string
	// BOSHInactivity is how long a BOSH client may leave the server
	// without a request before its session ends; default 60 s.
	BOSHInactivity time.Duration
	// BehindTLSProxy marks WebSocket and BOSH connections as encrypted
	// because a TLS-terminating proxy is in front.
	BehindTLSProxy bool
	// PublicURL is the base URL announced in host-meta; empty derives it
	// from each request.
	PublicURL string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For header
	// names the client (clientAddr).
	TrustedProxies []netip.Prefix
	// Limits bound what a client may send.
	Limits xmlstream.Limits
	// WriteTimeout bounds each write to a client.
	WriteTimeout time.Duration
	// Logger receives connection problems; nil discards.
	Logger *slog.Logger
}

// Handler returns the HTTP handler for the WebSocket and BOSH endpoints
// and the host-meta documents, serving streams with streams.
func Handler(cfg Config, streams *c2s.Server) http.Handler {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.BOSHInactivity <= 0 {
		cfg.BOSHInactivity = 60 * time.Second
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
			log.Info("websocket upgrade failed", "remote", cfg.clientAddr(r), "err", err)
			return
		}
		if c.Subprotocol() != "xmpp" {
			// RFC 7395 §3.2: the xmpp subprotocol is mandatory.
			c.Close(websocket.StatusProtocolError, "the xmpp subprotocol is required")
			return
		}
		t := newWSTransport(c, r, cfg.clientAddr(r), cfg.BehindTLSProxy, cfg.Limits, cfg.WriteTimeout)
		streams.ServeTransport(context.Background(), t)
	})
	if cfg.BOSHPath != "" {
		bosh := newBOSHHandler(cfg, streams)
		mux.Handle(cfg.BOSHPath, bosh)
		if !strings.HasSuffix(cfg.BOSHPath, "/") {
			mux.Handle(cfg.BOSHPath+"/{$}", bosh)
		}
	}
	mux.HandleFunc("GET /.well-known/host-meta", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xrd+xml")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		xrd := xmlstream.NewElement(nsXRD, "XRD")
		for _, l := range links(cfg, r) {
			xrd.AddChild(xmlstream.NewElement(nsXRD, "Link", "rel", l["rel"], "href", l["href"]))
		}
		w.Write([]byte("<?xml version='1.0' encoding='utf-8'?>\n"))
		w.Write(xrd.Append(nil, ""))
	})
	mux.HandleFunc("GET /.well-known/host-meta.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		json.NewEncoder(w).Encode(map[string]any{"links": links(cfg, r)})
	})
	return mux
}

const nsXRD = "http://docs.oasis-open.org/ns/xri/xrd-1.0"

// links are the connection methods host-meta announces to r's client
// (XEP-0156 §3).
func links(cfg Config, r *http.Request) []map[string]string {
	ls := []map[string]string{{"rel": "urn:xmpp:alt-connections:websocket", "href": webSocketURL(cfg, r)}}
	if cfg.BOSHPath != "" {
		ls = append(ls, map[string]string{"rel": "urn:xmpp:alt-connections:xbosh", "href": baseURL(cfg, r, "http") + cfg.BOSHPath})
	}
	return ls
}

// webSocketURL is the WebSocket endpoint's URL as announced to r's client.
func webSocketURL(cfg Config, r *http.Request) string {
	return baseURL(cfg, r, "ws") + cfg.WebSocketPath
}

// baseURL is the server's URL as r's client reaches it, in scheme ("http"
// or "ws") or its secure variant.
func baseURL(cfg Config, r *http.Request, scheme string) string {
	if cfg.PublicURL != "" {
		base := strings.TrimSuffix(cfg.PublicURL, "/")
		if scheme == "ws" {
			base = strings.Replace(base, "https://", "wss://", 1)
			base = strings.Replace(base, "http://", "ws://", 1)
		}
		return base
	}
	if r.TLS != nil || cfg.BehindTLSProxy {
		scheme += "s"
	}
	return scheme + "://" + r.Host
}

// clientAddr returns the address of the client that sent r: its peer's,
// or, when the peer is a trusted proxy, the last address X-Forwarded-For
// names that is not one, with the peer's port, which tells the proxy's
// connections apart. A header that does not parse is not believed.
func (cfg Config) clientAddr(r *http.Request) string {
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	peer, err2 := netip.ParseAddr(host)
	if err != nil || err2 != nil || !cfg.trusted(peer) {
		return r.RemoteAddr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return r.RemoteAddr
		}
		if !cfg.trusted(a) {
			return net.JoinHostPort(a.Unmap().String(), port)
		}
	}
	return r.RemoteAddr
}

// trusted reports whether a is one of the trusted proxies.
func (cfg Config) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
