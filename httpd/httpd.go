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
	"slices"
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
	// from each request (announcedHost).
	PublicURL string
	// Hosts are the names a request's Host header may give the URLs
	// host-meta announces when PublicURL is empty: the served domains
	// and the listeners' hosts. Another name gets the first of them.
	Hosts []string
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
	secure := r.TLS != nil || cfg.BehindTLSProxy
	if secure {
		scheme += "s"
	}
	return scheme + "://" + cfg.announcedHost(r, secure)
}

// announcedHost is the host, and port, that the URLs host-meta announces
// to r's client name: r's Host header when it names one of cfg.Hosts,
// without a port or with the one r came to; else the first of cfg.Hosts,
// with the port r came to unless it is the default one. Whoever sends a
// request chooses its Host header, and a cache in front may hand the
// answer to everyone: a forged one must not make host-meta send clients
// to another server.
func (cfg Config) announcedHost(r *http.Request, secure bool) string {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	localHost, localPort, _ := net.SplitHostPort(addrString(local))
	name, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		// No port: a name, or an IPv6 address in brackets.
		name, port = strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]"), ""
	}
	name = strings.TrimSuffix(name, ".")
	known := slices.ContainsFunc(cfg.Hosts, func(h string) bool { return strings.EqualFold(h, name) })
	if known && (port == "" || port == localPort) {
		return r.Host
	}
	host := localHost
	if len(cfg.Hosts) > 0 {
		host = cfg.Hosts[0]
	}
	defaultPort := "80"
	if secure {
		defaultPort = "443"
	}
	if localPort == "" || localPort == defaultPort || cfg.BehindTLSProxy {
		// Behind a proxy, the port r came to is not the one clients
		// reach: announce the default.
		return hostLiteral(host)
	}
	return net.JoinHostPort(host, localPort)
}

// addrString is a's string form, or "" for nil.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// hostLiteral is host as a URL names it: an IPv6 address in brackets.
func hostLiteral(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
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
