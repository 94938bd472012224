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

func TestPairedRatioAtMost(t *testing.T) {
	sp := &spec{Bench: "BenchmarkP", Base: "paired"}
	var results []result
	for _, r := range []float64{1.02, 1.20, 1.05, 0.98, 1.07} {
		results = append(results, result{Name: "BenchmarkP/Size=64",
			Values: map[string]float64{"ns/op": 100, "a/b": r}, Units: []string{"ns/op", "a/b"}})
	}
	tb, err := newTable(sp, results)
	if err != nil {
		t.Fatal(err)
	}
	if v := pairedRatioAtMost("a/b", "Size=64", "paired", "a/b", 1.10, "").check(tb); !v.Measured || !v.Met || v.Ratio != 1.05 || v.Got != "1.05x (median of 5 paired runs)" {
		t.Errorf("median 1.05 against ≤ 1.10x = %+v, want measured and met at 1.05", v)
	}
	if v := pairedRatioAtMost("a/b", "Size=64", "paired", "a/b", 1.04, "").check(tb); !v.Measured || v.Met {
		t.Errorf("median 1.05 against ≤ 1.04x = %+v, want measured and missed", v)
	}
	if v := pairedRatioAtMost("c/d", "Size=64", "paired", "c/d", 1.10, "").check(tb); v.Measured {
		t.Errorf("a unit with no runs = %+v, want not measured", v)
	}
}

func TestWaivedTargetSaysMissedAndWhy(t *testing.T) {
	tg := waived(target{What: "a/b"}, "the reason")
	if got := verdictWord(tg, verdict{Measured: true, Met: false}); got != "**missed**, waived: the reason" {
		t.Errorf("waived and missed = %q, want it to say missed, waived and why", got)
	}
	if got := verdictWord(tg, verdict{Measured: true, Met: true}); got != "met" {
		t.Errorf("waived and met = %q, want met", got)
	}
	if got := verdictWord(tg, verdict{}); got != "not measured" {
		t.Errorf("waived, not measured = %q, want not measured", got)
	}
	if got := verdictWord(target{}, verdict{Measured: true}); got != "**missed**" {
		t.Errorf("missed = %q, want **missed**", got)
	}
}
