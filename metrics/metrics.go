// Package metrics exposes a server's figures to a monitoring system, in
// Prometheus's text format (version 0.0.4), which Prometheus, VictoriaMetrics,
// Grafana Agent and most others scrape. Each figure is read when scraped:
// the packages keep their own counts, and the registry asks for them.
package metrics

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Sample is one value of a metric, with its labels as name, value pairs.
type Sample struct {
	Labels []string
	Value  float64
}

// family is one metric: its name, help, type and how to read it.
type family struct {
	name, help, typ string
	read            func() []Sample
}

// Registry is the set of metrics a server exposes. Its methods are safe
// for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families []family
}

// Gauge adds a metric whose value goes up and down, read by f.
func (r *Registry) Gauge(name, help string, f func() float64) {
	r.add(family{name, help, "gauge", func() []Sample { return []Sample{{Value: f()}} }})
}

// Counter adds a metric that only grows, read by f.
func (r *Registry) Counter(name, help string, f func() uint64) {
	r.add(family{name, help, "counter", func() []Sample { return []Sample{{Value: float64(f())}} }})
}

// GaugeVec adds a gauge with labelled samples, read by f.
func (r *Registry) GaugeVec(name, help string, f func() []Sample) {
	r.add(family{name, help, "gauge", f})
}

// CounterVec adds a counter with labelled samples, read by f.
func (r *Registry) CounterVec(name, help string, f func() []Sample) {
	r.add(family{name, help, "counter", f})
}

func (r *Registry) add(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.ContainsFunc(r.families, func(g family) bool { return g.name == f.name }) {
		panic("metrics: " + f.name + " registered twice")
	}
	r.families = append(r.families, f)
}

// ServeHTTP writes every metric, sorted by name.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(r.Append(nil))
}

// Append appends every metric in the text format to b.
func (r *Registry) Append(b []byte) []byte {
	r.mu.Lock()
	fs := slices.Clone(r.families)
	r.mu.Unlock()
	slices.SortFunc(fs, func(a, b family) int { return strings.Compare(a.name, b.name) })
	for _, f := range fs {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		for _, s := range f.read() {
			b = append(b, f.name...)
			if len(s.Labels) > 0 {
				b = append(b, '{')
				for i := 0; i+1 < len(s.Labels); i += 2 {
					if i > 0 {
						b = append(b, ',')
					}
					b = append(b, s.Labels[i]...)
					b = append(b, '=')
					b = append(b, '"')
					b = append(b, labelEscaper.Replace(s.Labels[i+1])...)
					b = append(b, '"')
				}
				b = append(b, '}')
			}
			b = append(b, ' ')
			b = strconv.AppendFloat(b, s.Value, 'g', -1, 64)
			b = append(b, '\n')
		}
	}
	return b
}

// escapeHelp escapes a help text as the format asks: backslash and
// newline.
func escapeHelp(s string) string { return helpEscaper.Replace(s) }

// The format's escapes: a help text's backslash and newline, and a label
// value's double quote too.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)
