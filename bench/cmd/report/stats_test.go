package main

import (
	"math"
	"testing"
)

func TestMedianCIOrders(t *testing.T) {
	// Orders as benchstat (go-moremath stats.QuantileCI) gives them.
	tests := []struct {
		give           int
		wantLo, wantHi int
	}{
		{3, 0, 4}, // too few: both bounds infinite
		{5, 0, 5},
		{6, 1, 6},
		{10, 2, 9},
		{20, 6, 15},
	}
	for _, tt := range tests {
		lo, hi := medianCIOrders(tt.give, confidence)
		if lo != tt.wantLo || hi != tt.wantHi {
			t.Errorf("medianCIOrders(%d) = %d, %d; want %d, %d", tt.give, lo, hi, tt.wantLo, tt.wantHi)
		}
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		give []float64
		want summary
	}{
		{"ten", []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}, summary{Median: 5.5, Lo: 2, Hi: 9, N: 10}},
		{"odd", []float64{3, 1, 2, 5, 4, 7, 6}, summary{Median: 4, Lo: 1, Hi: 7, N: 7}},
		{"three", []float64{3, 1, 2}, summary{Median: 2, Lo: math.Inf(-1), Hi: math.Inf(1), N: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.give); got != tt.want {
				t.Errorf("summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		name string
		give summary
		want float64
	}{
		{"asymmetric", summary{Median: 100, Lo: 98, Hi: 105}, 0.05},
		{"zero", summary{Median: 0, Lo: 0, Hi: 0}, 0},
		{"infinite", summary{Median: 1, Lo: math.Inf(-1), Hi: math.Inf(1)}, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.give.spread(); math.Abs(got-tt.want) > 1e-12 && got != tt.want {
				t.Errorf("spread = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUTest(t *testing.T) {
	tests := []struct {
		name   string
		xs, ys []float64
		want   float64
	}{
		// Exact: fully separated samples of 5 and 5 give 2/C(10,5).
		{"separated", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 2.0 / 252},
		{"separated swapped", []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 2.0 / 252},
		// Exact: U=1 of 3x3; P(U<=1) = 2/20.
		{"one swap", []float64{1, 2, 4}, []float64{3, 5, 6}, 4.0 / 20},
		{"interleaved", []float64{1, 3, 5}, []float64{2, 4, 6}, 0.7},
		{"all equal", []float64{3, 3, 3}, []float64{3, 3, 3}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := uTest(tt.xs, tt.ys); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("uTest = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUTestTies(t *testing.T) {
	// Two constant, different samples of 10: benchstat says p=0.000.
	xs := []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ys := []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	if p := uTest(xs, ys); p >= 0.001 {
		t.Errorf("uTest(constant 0, constant 1) = %v, want < 0.001", p)
	}
	// Mostly tied, no real difference.
	xs = []float64{3, 3, 3, 3, 4, 3}
	ys = []float64{3, 3, 4, 3, 3, 3}
	if p := uTest(xs, ys); p < 0.5 {
		t.Errorf("uTest(same mostly tied) = %v, want >= 0.5", p)
	}
}
