package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// fmtNum formats v with three significant digits and no exponent: 0, 37,
// 148, 1234, 4.21, 0.0123.
func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.IsInf(v, 0) || math.IsNaN(v):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	digits := max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// fmtNanos formats a duration in nanoseconds with a unit that keeps it
// between 1 and 1000: 148 ns, 1.23 µs, 4.56 ms, 2.10 s.
func fmtNanos(ns float64) string {
	units := []string{"ns", "µs", "ms", "s"}
	i := 0
	for ; i < len(units)-1 && math.Abs(ns) >= 1000; i++ {
		ns /= 1000
	}
	return fmtSig(ns) + " " + units[i]
}

// fmtSig formats v with three significant digits, keeping trailing zeros:
// 24.0, 148, 1.20.
func fmtSig(v float64) string {
	v = roundSig(v)
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return fmtNum(v)
	}
	digits := max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// roundSig rounds v to three significant digits, so that 148.05 prints as
// 148 and not 148.05.
func roundSig(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	scale := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// fmtValue formats a median in unit: a time for ns/op, a bare number
// otherwise (the table's heading names the unit).
func fmtValue(v float64, unit string) string {
	if unit == "ns/op" || strings.HasSuffix(unit, "-ns/rt") {
		return fmtNanos(v)
	}
	return fmtNum(roundSig(v))
}

// fmtSummary formats a cell: "148 ns ±1%", "37 ±0%", "4.2 ±∞" (too few
// runs for an interval).
func fmtSummary(s summary, unit string) string {
	sp := s.spread()
	var ci string
	switch {
	case math.IsInf(sp, 1):
		ci = "±∞"
	case math.IsNaN(sp):
		ci = "±?"
	default:
		ci = fmt.Sprintf("±%.0f%%", sp*100)
	}
	return fmtValue(s.Median, unit) + " " + ci
}

// fmtRatio formats a ratio: 1.02x, 0.25x, 0.00021x, ∞ (a peer's zero).
func fmtRatio(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	if v >= 0.1 || v == 0 {
		return strconv.FormatFloat(v, 'f', 2, 64) + "x"
	}
	return strings.TrimRight(fmtNum(roundSig(v)), "0") + "x"
}

// fmtRatioCell formats a ratio column's cell, "~" marking a difference
// that is not significant.
func fmtRatioCell(r ratio) string {
	s := fmtRatio(r.Value)
	if !r.Signif {
		s += " ~"
	}
	return s
}

// fmtCount formats a whole number with thousands separators: 4,800.
func fmtCount(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
