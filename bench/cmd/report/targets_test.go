package main

import "testing"

func TestCellRatioAtMost(t *testing.T) {
	sp := &spec{Bench: "BenchmarkA", Column: "Impl", Base: "connkit"}
	var results []result
	for _, r := range []struct {
		impl string
		ns   float64
	}{{"connkit", 30}, {"connkit-fast", 11}, {"peer", 10}} {
		for range 5 {
			results = append(results, result{Name: "BenchmarkA/N=1/Impl=" + r.impl,
				Values: map[string]float64{"ns/op": r.ns}, Units: []string{"ns/op"}})
		}
	}
	tb, err := newTable(sp, results)
	if err != nil {
		t.Fatal(err)
	}
	fast, peer := cell{"N=1", "connkit-fast", "ns/op"}, cell{"N=1", "peer", "ns/op"}
	if v := cellRatioAtMost("fast/peer", fast, peer, 1.2, "").check(tb); !v.Measured || !v.Met || v.Ratio != 1.1 {
		t.Errorf("1.1x against ≤ 1.2x = %+v, want measured and met at 1.1", v)
	}
	if v := cellRatioAtMost("fast/peer", fast, peer, 1.05, "").check(tb); !v.Measured || v.Met {
		t.Errorf("1.1x against ≤ 1.05x = %+v, want measured and missed", v)
	}
	if v := cellRatioAtMost("none/peer", cell{"N=1", "none", "ns/op"}, peer, 1.2, "").check(tb); v.Measured {
		t.Errorf("a column with no runs = %+v, want not measured", v)
	}
}
