package server

import (
	"context"
	"net"
	"strings"
	"time"

	"xmppd/storage/postgres"
	"xmppd/upload"
)

// slotTime is how long an upload slot waits for its file.
const slotTime = 10 * time.Minute

// upload wires XEP-0363 HTTP file upload: a service on upload.<host> for
// each host, and the files' handler, which Server mounts on its HTTP
// listener. Expired files are deleted hourly until the closers run.
func (w *wiring) upload(ctx context.Context) error {
	if !w.cfg.Upload.Enabled || !w.cfg.HTTP.Enabled() {
		return nil
	}
	store := postgres.NewUploads(w.pool)
	for _, host := range w.cfg.Hosts {
		upload.New(w.router, upload.Config{
			Domain:      "upload." + host,
			Host:        host,
			BaseURL:     func() string { return w.httpBaseURL(host) },
			Store:       store,
			MaxFileSize: w.cfg.Upload.MaxFileBytes,
			Limits:      upload.Limits{Quota: w.cfg.Upload.QuotaBytes, SlotsPerDay: w.cfg.Upload.SlotsPerDay},
			SlotTime:    slotTime,
			Logger:      w.log,
		}).Register()
	}
	w.uploads = &upload.Files{
		Store:       store,
		SlotTime:    slotTime,
		ExpireAfter: time.Duration(w.cfg.Upload.ExpireDays) * 24 * time.Hour,
		Logger:      w.log,
	}
	expireCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.uploads.Expire(expireCtx, time.Hour)
	}()
	w.closers = append(w.closers, func() { stop(); <-done })
	return nil
}

// httpBaseURL is the URL the HTTP listeners are reached at by clients of
// host: http.public_url, or else https://<host>:<port> of the HTTPS
// listener (the host's certificate names the host, not an address), or
// else http://<host>:<port> of the plain one, with the listener's own
// address when it listens on one. Clients such as Conversations and
// Monal only use https links.
func (w *wiring) httpBaseURL(host string) string {
	if w.cfg.HTTP.PublicURL != "" {
		return strings.TrimSuffix(w.cfg.HTTP.PublicURL, "/")
	}
	plain, secure := w.httpAddrs()
	if secure != nil {
		if _, port, err := net.SplitHostPort(secure.String()); err == nil {
			return "https://" + net.JoinHostPort(host, port)
		}
	}
	if plain == nil {
		return "http://" + host
	}
	ip, port, err := net.SplitHostPort(plain.String())
	if err != nil {
		return "http://" + host
	}
	if parsed := net.ParseIP(ip); parsed != nil && !parsed.IsUnspecified() {
		host = ip
	}
	return "http://" + net.JoinHostPort(host, port)
}
