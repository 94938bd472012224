package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseResults(t *testing.T) {
	in := `goos: linux
cpu: Test CPU
BenchmarkWSEcho/Size=64/Impl=coder-2   	   12345	     20100 ns/op	   6.37 MB/s	     224 B/op	       4 allocs/op
BenchmarkWSReconnect      50   22100000 ns/op   2.100 overhead-ms
BenchmarkWSEcho/Size=64/Impl=coder-2 some log line a benchmark printed
--- BENCH: BenchmarkX
PASS
`
	got, err := parseResults(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []result{
		{
			Name:   "BenchmarkWSEcho/Size=64/Impl=coder",
			Values: map[string]float64{"ns/op": 20100, "MB/s": 6.37, "B/op": 224, "allocs/op": 4},
			Units:  []string{"ns/op", "MB/s", "B/op", "allocs/op"},
		},
		{
			Name:   "BenchmarkWSReconnect",
			Values: map[string]float64{"ns/op": 22100000, "overhead-ms": 2.1},
			Units:  []string{"ns/op", "overhead-ms"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseResults =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseResultsErrors(t *testing.T) {
	for _, give := range []string{
		"BenchmarkA-2 100 12 ns/op 5",
		"BenchmarkA-2 100 twelve ns/op",
		"BenchmarkA-2 100",
	} {
		if _, err := parseResults(strings.NewReader(give)); err == nil {
			t.Errorf("parseResults(%q) succeeded, want an error", give)
		}
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		give, column                   string
		wantTop, wantCol, wantScenario string
	}{
		{"BenchmarkAcquireRelease/Size=8/Goroutines=2/Ctx=background/Impl=puddle", "Impl",
			"BenchmarkAcquireRelease", "puddle", "Size=8/Goroutines=2/Ctx=background"},
		{"BenchmarkRedisReset/Redis/Op=GET/Mode=clean", "Mode", "BenchmarkRedisReset", "clean", "Redis/Op=GET"},
		{"BenchmarkWSReconnect", "", "BenchmarkWSReconnect", "", ""},
		{"BenchmarkX/Impl=a", "", "BenchmarkX", "", "Impl=a"},
	}
	for _, tt := range tests {
		top, col, sc := splitName(tt.give, tt.column)
		if top != tt.wantTop || col != tt.wantCol || sc != tt.wantScenario {
			t.Errorf("splitName(%q, %q) = %q, %q, %q; want %q, %q, %q",
				tt.give, tt.column, top, col, sc, tt.wantTop, tt.wantCol, tt.wantScenario)
		}
	}
}

func TestNewTable(t *testing.T) {
	sp := &spec{Bench: "BenchmarkA", Column: "Impl", Base: "connkit"}
	results := []result{
		{Name: "BenchmarkA/N=1/Impl=peer", Values: map[string]float64{"B/op": 2, "ns/op": 20}, Units: []string{"B/op", "ns/op"}},
		{Name: "BenchmarkA/N=1/Impl=connkit", Values: map[string]float64{"ns/op": 10, "MB/s": 3}, Units: []string{"ns/op", "MB/s"}},
		{Name: "BenchmarkB/N=1/Impl=connkit", Values: map[string]float64{"ns/op": 99}, Units: []string{"ns/op"}},
	}
	tb, err := newTable(sp, results)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"connkit", "peer"}; !reflect.DeepEqual(tb.Cols, want) {
		t.Errorf("Cols = %q, want %q", tb.Cols, want)
	}
	if want := []string{"ns/op", "B/op"}; !reflect.DeepEqual(tb.Units, want) {
		t.Errorf("Units = %q, want %q (MB/s left out)", tb.Units, want)
	}
	r, ok := tb.peerRatio("N=1", "peer", "ns/op")
	if !ok || r.Value != 0.5 {
		t.Errorf("peerRatio = %v, %v; want 0.5", r.Value, ok)
	}
	if _, err := newTable(&spec{Bench: "BenchmarkC", Column: "Impl"}, results); err == nil {
		t.Error("newTable with no results succeeded")
	}
	if _, err := newTable(&spec{Bench: "BenchmarkA", Column: "Mode"}, results); err == nil {
		t.Error("newTable with no Mode= segment succeeded")
	}
}
