package main

import (
	"math"
	"slices"
)

// confidence is the level of every confidence interval in the report.
const confidence = 0.95

// alpha is the p-value under which a difference is called significant, as
// benchstat does.
const alpha = 0.05

// summary is a sample's median and the confidence interval around it. Lo
// is -Inf and Hi +Inf when the sample is too small for one (fewer than 6
// values at 95%).
type summary struct {
	Median, Lo, Hi float64
	N              int
}

// summarize returns the median of values and its 95% confidence interval,
// computed as benchstat does (golang.org/x/perf/benchmath.AssumeNothing):
// the interval between the order statistics that the binomial
// distribution B(n, 1/2) puts the population median between.
func summarize(values []float64) summary {
	xs := slices.Clone(values)
	slices.Sort(xs)
	n := len(xs)
	s := summary{Median: math.NaN(), Lo: math.Inf(-1), Hi: math.Inf(1), N: n}
	if n == 0 {
		return s
	}
	if n%2 == 1 {
		s.Median = xs[n/2]
	} else {
		s.Median = (xs[n/2-1] + xs[n/2]) / 2
	}
	lo, hi := medianCIOrders(n, confidence)
	if lo >= 1 {
		s.Lo = xs[lo-1]
	}
	if hi <= n {
		s.Hi = xs[hi-1]
	}
	return s
}

// spread returns the half-width of s's confidence interval relative to its
// median (0.03 for ±3%), the larger side as benchstat shows it; +Inf when
// there is no interval, NaN when the median is 0 and the interval is not.
func (s summary) spread() float64 {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return math.Inf(1)
	}
	if s.Median == 0 {
		if s.Lo == 0 && s.Hi == 0 {
			return 0
		}
		return math.NaN()
	}
	return math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median)
}

// medianCIOrders returns the 1-based order statistics that bound the
// confidence interval of the median of n values. An order below 1 or
// above n means the bound is infinite. It starts at the mode of B(n, 1/2)
// and adds the more likely neighbour, left first on a tie, until the mass
// reaches the confidence level (go-moremath's stats.QuantileCI).
func medianCIOrders(n int, confidence float64) (lo, hi int) {
	pmf := func(k int) float64 { return binomialHalfPMF(n, k) }
	x := int(math.Ceil(float64(n+1)*0.5) - 1)
	l, r := x, x+1
	accum := pmf(x)
	lp, rp := pmf(l-1), pmf(r)
	for accum < confidence && (lp > 0 || rp > 0) {
		if lp >= rp {
			accum += lp
			l--
			lp = pmf(l - 1)
		} else {
			accum += rp
			r++
			rp = pmf(r)
		}
	}
	return max(l, 0), min(r, n+1)
}

// binomialHalfPMF returns P(X = k) for X ~ B(n, 1/2).
func binomialHalfPMF(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	return math.Exp(lchoose(n, k) - float64(n)*math.Ln2)
}

// lchoose returns the natural logarithm of n choose k.
func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// uTest returns the two-sided p-value of the Mann-Whitney U test that xs
// and ys come from distributions with the same location. Without ties it
// is exact; with ties it uses the normal approximation with the tie and
// continuity corrections (benchstat is exact for small samples with ties
// too, so p-values there may differ a little from its). Two samples of one
// and the same value give 1.
func uTest(xs, ys []float64) float64 {
	n1, n2 := len(xs), len(ys)
	if n1 == 0 || n2 == 0 {
		return math.NaN()
	}
	u1, ties := uStatistic(xs, ys)
	u := math.Min(u1, float64(n1*n2)-u1)
	if len(ties) == 0 {
		return math.Min(1, 2*exactUCDF(n1, n2, int(u)))
	}
	n := float64(n1 + n2)
	var t float64
	for _, c := range ties {
		t += float64(c*c*c - c)
	}
	sigma := math.Sqrt(float64(n1*n2) / 12 * ((n + 1) - t/(n*(n-1))))
	if sigma == 0 {
		return 1
	}
	mu := float64(n1*n2) / 2
	z := (u - mu + 0.5) / sigma // u <= mu: the continuity correction moves it toward mu
	return math.Min(1, 2*normalCDF(math.Min(z, 0)))
}

// uStatistic returns U for xs against ys (how many pairs have the x below
// the y, ties counting half) and the sizes of the groups of tied values.
func uStatistic(xs, ys []float64) (u float64, ties []int) {
	type labeled struct {
		v     float64
		fromX bool
	}
	all := make([]labeled, 0, len(xs)+len(ys))
	for _, x := range xs {
		all = append(all, labeled{x, true})
	}
	for _, y := range ys {
		all = append(all, labeled{y, false})
	}
	slices.SortFunc(all, func(a, b labeled) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	var rankSum float64 // of xs
	for i := 0; i < len(all); {
		j, inX := i, 0
		for ; j < len(all) && all[j].v == all[i].v; j++ {
			if all[j].fromX {
				inX++
			}
		}
		rankSum += float64(inX) * float64(i+1+j) / 2 // the mean of ranks i+1..j
		if j-i > 1 {
			ties = append(ties, j-i)
		}
		i = j
	}
	n1 := float64(len(xs))
	return rankSum - n1*(n1+1)/2, ties
}

// exactUCDF returns P(U <= u) for samples of n1 and n2 distinct values
// drawn from one distribution, counting the orderings with each U.
func exactUCDF(n1, n2, u int) float64 {
	// f[i][j][k]: orderings of i xs and j ys with U = k.
	f := make([][][]float64, n1+1)
	for i := range f {
		f[i] = make([][]float64, n2+1)
		for j := range f[i] {
			f[i][j] = make([]float64, i*j+1)
			if i == 0 || j == 0 {
				f[i][j][0] = 1
				continue
			}
			for k := range f[i][j] {
				// The largest value is a y (U unchanged) or an x (above all j ys).
				if k < len(f[i][j-1]) {
					f[i][j][k] += f[i][j-1][k]
				}
				if k >= j && k-j < len(f[i-1][j]) {
					f[i][j][k] += f[i-1][j][k-j]
				}
			}
		}
	}
	var below, total float64
	for k, c := range f[n1][n2] {
		total += c
		if k <= u {
			below += c
		}
	}
	return below / total
}

// normalCDF returns P(Z <= z) for a standard normal Z.
func normalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}
