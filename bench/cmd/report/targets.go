package main

import (
	"fmt"
	"strings"
)

// target is one figure an issue asks for, checked against a benchmark's
// table.
type target struct {
	What  string // what is measured, in words: "uncontended (Ctx=background), connkit/puddle"
	Goal  string // the target: "≤ 1.15x"
	Chart string // the label of its bar in results.svg; empty for none
	Limit float64
	// Waived, when set, says why a miss of this target is not held against
	// its issue: the report still measures it and says it was missed.
	Waived string
	eval   func(t *table) verdict
}

// verdict is a target checked against measurements.
type verdict struct {
	Measured bool    // false: a figure it needs was not measured
	Met      bool    // judged on medians
	Got      string  // the measured figure: "1.02x", "4.2 ms"
	Ratio    float64 // for a charted target, the ratio drawn
	NotSig   bool    // the difference the verdict rests on is not significant
	P        float64 // its Mann-Whitney p-value, when NotSig
}

// check evaluates tg against t.
func (tg target) check(t *table) verdict { return tg.eval(t) }

// ratioAtMost is met when the ratio in col's ratio column of row (connkit
// over col, or col over the base for an Overhead spec) is at most limit.
// goal is the target in the words; empty means "≤ limit x".
func ratioAtMost(what, row, col string, limit float64, goal, chart string) target {
	if goal == "" {
		goal = "≤ " + fmtRatio(limit)
	}
	return target{What: what, Goal: goal, Chart: chart, Limit: limit, eval: func(t *table) verdict {
		r, ok := t.peerRatio(row, col, "ns/op")
		if !ok {
			return verdict{}
		}
		v := verdict{Measured: true, Met: r.Value <= limit, Got: fmtRatioCell(r), Ratio: r.Value}
		if r.Value < 0.1 {
			v.Got += fmt.Sprintf(" (%sx faster)", fmtCount(1/r.Value))
		}
		v.NotSig, v.P = !r.Signif, r.P
		return v
	}}
}

// cellRatioAtMost is met when the median of a over the median of b is at
// most limit: for a ratio between two columns neither of which is the base.
func cellRatioAtMost(what string, a, b cell, limit float64, chart string) target {
	return target{What: what, Goal: "≤ " + fmtRatio(limit), Chart: chart, Limit: limit, eval: func(t *table) verdict {
		r, ok := t.ratio(a, b)
		if !ok {
			return verdict{}
		}
		return verdict{Measured: true, Met: r.Value <= limit, Got: fmtRatioCell(r), Ratio: r.Value, NotSig: !r.Signif, P: r.P}
	}}
}

// pairedRatioAtMost is met when the median of a ratio that each run
// measures itself (unit, such as "wsclient/coder", from two clients timed in
// the same moments) is at most limit.
func pairedRatioAtMost(what, row, col, unit string, limit float64, chart string) target {
	return target{What: what, Goal: "≤ " + fmtRatio(limit), Chart: chart, Limit: limit, eval: func(t *table) verdict {
		s, ok := t.summary(row, col, unit)
		if !ok {
			return verdict{}
		}
		got := fmt.Sprintf("%s (median of %d paired runs)", fmtRatio(s.Median), s.N)
		return verdict{Measured: true, Met: s.Median <= limit, Got: got, Ratio: s.Median}
	}}
}

// atMost is met when the median of one cell is at most limit.
func atMost(what, row, col, unit string, limit float64, goal string) target {
	return target{What: what, Goal: goal, eval: func(t *table) verdict {
		m, ok := t.median(row, col, unit)
		if !ok {
			return verdict{}
		}
		got := strings.TrimSpace(fmtValue(m, unit) + " " + unitWord(unit))
		return verdict{Measured: true, Met: m <= limit, Got: got}
	}}
}

// extraAtMost is met when the median of a exceeds the median of b by at
// most limit (in ns/op).
func extraAtMost(what string, a, b cell, limit float64, goal string) target {
	return target{What: what, Goal: goal, eval: func(t *table) verdict {
		ma, okA := t.median(a.Row, a.Col, a.Unit)
		mb, okB := t.median(b.Row, b.Col, b.Unit)
		if !okA || !okB {
			return verdict{}
		}
		return verdict{Measured: true, Met: ma-mb <= limit, Got: "+" + fmtValue(ma-mb, a.Unit)}
	}}
}

// lessThan is met when the median of a is below the median of b.
func lessThan(what string, a, b cell, goal string) target {
	return target{What: what, Goal: goal, eval: func(t *table) verdict {
		r, ok := t.ratio(a, b)
		if !ok {
			return verdict{}
		}
		return verdict{Measured: true, Met: r.Value < 1, Got: fmtRatioCell(r), NotSig: !r.Signif, P: r.P}
	}}
}

// unitWord names a unit after a value: "4.2 overhead-ms" reads badly.
func unitWord(unit string) string {
	switch unit {
	case "overhead-ms":
		return "ms"
	case "ns/op":
		return ""
	}
	return unit
}

// verdictWord is tg's verdict in one word, bold when the target is missed,
// and followed by the reason when that miss is waived.
func verdictWord(tg target, v verdict) string {
	switch {
	case !v.Measured:
		return "not measured"
	case v.Met:
		return "met"
	case tg.Waived != "":
		return "**missed**, waived: " + tg.Waived
	}
	return "**missed**"
}

// verdictNote explains a verdict whose difference is not significant.
func verdictNote(v verdict) string {
	if !v.Measured || !v.NotSig {
		return ""
	}
	return fmt.Sprintf("the difference is not significant, p=%.2f", v.P)
}
