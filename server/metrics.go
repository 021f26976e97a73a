package server

import (
	"net/http"
	"runtime"
	"slices"
	"time"

	"xmppd/metrics"
)

// metricsHandler serves the server's figures for monitoring at
// /metrics (package metrics). Each is read when scraped.
func (s *Server) metricsHandler() http.Handler {
	var reg metrics.Registry
	started := float64(time.Now().Unix())
	reg.GaugeVec("xmppd_build_info", "The xmppd version running, as a label.", func() []metrics.Sample {
		return []metrics.Sample{{Labels: []string{"version", Version}, Value: 1}}
	})
	reg.Gauge("xmppd_start_time_seconds", "When this node started, in seconds since the Unix epoch.", func() float64 { return started })
	reg.Gauge("xmppd_sessions", "Client sessions bound on this node, resumable ones waiting included.", func() float64 {
		return float64(s.router.SessionCount())
	})
	reg.Gauge("xmppd_online_accounts", "Accounts with at least one session on any node of the cluster.", func() float64 {
		n := 0
		for _, h := range s.cfg.Hosts {
			n += len(s.router.OnlineAccounts(h))
		}
		return float64(n)
	})
	reg.CounterVec("xmppd_stanzas_routed_total", "Stanzas routed by this node, by kind.", func() []metrics.Sample {
		m, p, iq := s.router.Routed()
		return []metrics.Sample{{Labels: []string{"kind", "message"}, Value: float64(m)},
			{Labels: []string{"kind", "presence"}, Value: float64(p)}, {Labels: []string{"kind", "iq"}, Value: float64(iq)}}
	})
	reg.CounterVec("xmppd_logins_total", "Client authentications on this node, by result.", func() []metrics.Sample {
		ok, failed := s.c2s.Logins()
		return []metrics.Sample{{Labels: []string{"result", "success"}, Value: float64(ok)},
			{Labels: []string{"result", "failure"}, Value: float64(failed)}}
	})
	if s.s2s != nil {
		reg.GaugeVec("xmppd_s2s_streams", "Streams with other servers, by direction.", func() []metrics.Sample {
			in, out := s.s2s.Streams()
			return []metrics.Sample{{Labels: []string{"direction", "in"}, Value: float64(in)},
				{Labels: []string{"direction", "out"}, Value: float64(out)}}
		})
	}
	if m := s.modules.mam; m != nil {
		reg.Counter("xmppd_archived_messages_total", "Messages the archive stored.", func() uint64 {
			stored, _ := m.Archived()
			return stored
		})
		reg.Gauge("xmppd_archive_queue", "Messages waiting for the archive's writer.", func() float64 {
			_, waiting := m.Archived()
			return float64(waiting)
		})
	}
	reg.GaugeVec("xmppd_db_connections", "PostgreSQL connections of the pool, by state; max is the pool's size.", func() []metrics.Sample {
		st := s.db.Pool.Stat()
		return []metrics.Sample{{Labels: []string{"state", "acquired"}, Value: float64(st.AcquiredConns())},
			{Labels: []string{"state", "idle"}, Value: float64(st.IdleConns())},
			{Labels: []string{"state", "max"}, Value: float64(st.MaxConns())}}
	})
	names := s.cfg.Hosts
	if s.cfg.ACME.Enabled {
		names = append(slices.Clone(names), s.cfg.ACME.DomainsOr(s.cfg.Hosts, s.cfg.TLS.Certificates)...)
		slices.Sort(names)
		names = slices.Compact(names)
	}
	reg.GaugeVec("xmppd_certificate_expiry_seconds", "When the certificate served for each host (and ACME domain) expires, in seconds since the Unix epoch.", func() []metrics.Sample {
		var samples []metrics.Sample
		for _, name := range names {
			if c, err := s.certs.Certificate(name); err == nil && c != nil && c.Leaf != nil {
				samples = append(samples, metrics.Sample{Labels: []string{"host", name}, Value: float64(c.Leaf.NotAfter.Unix())})
			}
		}
		return samples
	})
	reg.Gauge("go_goroutines", "Goroutines of the process.", func() float64 { return float64(runtime.NumGoroutine()) })
	reg.Gauge("go_memstats_heap_alloc_bytes", "Bytes of the Go heap in use.", func() float64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", &reg)
	return mux
}
