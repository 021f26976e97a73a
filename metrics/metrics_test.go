package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFormat: metrics come sorted by name, each with its help and type,
// and labels and help texts are escaped as the text format asks.
func TestFormat(t *testing.T) {
	var r Registry
	n := uint64(41)
	r.Counter("b_total", "Things counted.", func() uint64 { n++; return n })
	r.Gauge("a_gauge", "A level,\nwith a \\ in it.", func() float64 { return 0.5 })
	r.GaugeVec("c_by_kind", "By kind.", func() []Sample {
		return []Sample{{Labels: []string{"kind", `say "hi"`, "node", "x\\y"}, Value: 2}, {Labels: []string{"kind", "b"}, Value: 3e9}}
	})
	want := `# HELP a_gauge A level,\nwith a \\ in it.
# TYPE a_gauge gauge
a_gauge 0.5
# HELP b_total Things counted.
# TYPE b_total counter
b_total 42
# HELP c_by_kind By kind.
# TYPE c_by_kind gauge
c_by_kind{kind="say \"hi\"",node="x\\y"} 2
c_by_kind{kind="b"} 3e+09
`
	if got := string(r.Append(nil)); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || !strings.Contains(w.Body.String(), "b_total 43") {
		t.Fatalf("served %q:\n%s", ct, w.Body.String())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	r.Gauge("a_gauge", "again", func() float64 { return 0 })
}
