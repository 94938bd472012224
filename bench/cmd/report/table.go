package main

import (
	"fmt"
	"math"
	"slices"
)

// skippedUnits are measured but not tabulated: MB/s is ns/op again, read
// the other way up.
var skippedUnits = map[string]bool{"MB/s": true}

// cell identifies one sample: a scenario, a column, a unit.
type cell struct{ Row, Col, Unit string }

// table holds one benchmark's runs, arranged as the report shows them:
// scenarios down, the spec's columns across, one table per unit.
type table struct {
	Spec    *spec
	Rows    []string // scenarios in the order they ran
	Cols    []string // Spec.Base first, then the others in the order they ran
	Units   []string // ns/op first, then the others in the order they appear
	Samples map[cell][]float64
}

// newTable arranges the results of spec's benchmark; results of other
// benchmarks are ignored. It fails when there are none, or when a result
// has no value for spec.Column.
func newTable(sp *spec, results []result) (*table, error) {
	t := &table{Spec: sp, Samples: map[cell][]float64{}}
	for _, r := range results {
		top, col, row := splitName(r.Name, sp.Column)
		if top != sp.Bench {
			continue
		}
		if sp.Column == "" {
			col = sp.Base
		} else if col == "" {
			return nil, fmt.Errorf("%s: no %s= segment: the report cannot tell whose result it is (see specs.go)", r.Name, sp.Column)
		}
		addOnce(&t.Rows, row)
		addOnce(&t.Cols, col)
		for _, u := range r.Units {
			if skippedUnits[u] {
				continue
			}
			addOnce(&t.Units, u)
			k := cell{row, col, u}
			t.Samples[k] = append(t.Samples[k], r.Values[u])
		}
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s: no results", sp.Bench)
	}
	moveFirst(t.Cols, sp.Base)
	moveFirst(t.Units, "ns/op")
	return t, nil
}

func addOnce(list *[]string, s string) {
	if !slices.Contains(*list, s) {
		*list = append(*list, s)
	}
}

// moveFirst moves s to the front of list if it is there, keeping the order
// of the others.
func moveFirst(list []string, s string) {
	if i := slices.Index(list, s); i > 0 {
		copy(list[1:i+1], list[:i])
		list[0] = s
	}
}

// summary returns the summary of a cell, and false when it has no sample.
func (t *table) summary(row, col, unit string) (summary, bool) {
	xs := t.Samples[cell{row, col, unit}]
	if len(xs) == 0 {
		return summary{}, false
	}
	return summarize(xs), true
}

// median returns a cell's median, and false when it has no sample.
func (t *table) median(row, col, unit string) (float64, bool) {
	s, ok := t.summary(row, col, unit)
	return s.Median, ok
}

// ratio is one cell of a ratio column: the quotient of two medians and
// whether the samples differ significantly.
type ratio struct {
	Value  float64
	P      float64 // Mann-Whitney U test
	Signif bool
}

// ratio returns the median of a over the median of b, and false when
// either has no sample.
func (t *table) ratio(a, b cell) (ratio, bool) {
	xs, ys := t.Samples[a], t.Samples[b]
	if len(xs) == 0 || len(ys) == 0 {
		return ratio{}, false
	}
	r := ratio{Value: summarize(xs).Median / summarize(ys).Median, P: uTest(xs, ys)}
	if math.IsNaN(r.Value) { // 0/0: the same nothing
		r.Value = 1
	}
	r.Signif = r.P < alpha
	return r, true
}

// peerRatio returns the ratio the report shows in col's ratio column:
// Base/col (connkit against a peer), or col/Base for an Overhead spec.
func (t *table) peerRatio(row, col, unit string) (ratio, bool) {
	c, base := cell{row, col, unit}, cell{row, t.Spec.Base, unit}
	if t.Spec.Overhead {
		return t.ratio(c, base)
	}
	return t.ratio(base, c)
}

// ratioHeader returns the heading of col's ratio column.
func (t *table) ratioHeader(col string) string {
	if t.Spec.Overhead {
		return col + "/" + t.Spec.Base
	}
	return t.Spec.Base + "/" + col
}
