package main

import (
	"math"
	"slices"
	"sync"
	"time"
)

// latency summarises durations in milliseconds.
type latency struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// summarize returns the summary of ds (nearest-rank percentiles).
func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(i, 0)])
	}
	return latency{
		Count: len(s),
		Mean:  ms(sum / time.Duration(len(s))),
		P50:   rank(0.50),
		P90:   rank(0.90),
		P99:   rank(0.99),
		Max:   ms(s[len(s)-1]),
	}
}

// ms converts d to milliseconds with microsecond precision.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// seconds converts d to seconds with millisecond precision.
func seconds(d time.Duration) float64 { return round3(d.Seconds()) }

// round3 rounds x to three decimals.
func round3(x float64) float64 { return math.Round(x*1e3) / 1e3 }

// errorCounts counts errors by their text; safe for concurrent use.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int
	n  int
}

// add counts err.
func (e *errorCounts) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int{}
	}
	e.m[err.Error()]++
	e.n++
}

// total returns how many errors were counted.
func (e *errorCounts) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// counts returns a copy of the counts by error text.
func (e *errorCounts) counts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}
