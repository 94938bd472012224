package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/template"
)

// bar is one headline of the chart: connkit's time over a peer's.
type bar struct {
	Label  string
	Ratio  float64
	Target float64 // met when Ratio <= Target
	Met    bool
	Waived bool // missed, but not held against the issue (RESULTS.md says why)
}

// Chart geometry, in pixels.
const (
	chartWidth = 1000
	plotLeft   = 320 // labels end here
	plotRight  = 780 // value texts start after this
	plotTop    = 78
	rowHeight  = 30
	barHeight  = 16
	minTickGap = 40
)

// Ratios the axis can start, end and be ticked at.
var (
	axisBounds = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10}
	axisTicks  = []float64{0.1, 0.2, 0.5, 0.8, 1, 1.25, 1.5, 2, 5, 10}
)

// chartData is what the SVG template draws: every coordinate computed.
type chartData struct {
	Width, Height int
	LabelX        int // right end of the bar labels
	ValueX        int // left end of the value texts
	BarHeight     int
	Title, Note   string
	Empty         string // shown instead of bars when there are none
	One           float64
	Top, Bottom   int
	Ticks         []tickData
	Bars          []barData
}

type tickData struct {
	X     float64
	Label string
}

type barData struct {
	Y, TextY     float64
	Label, Value string
	X, W         float64
	Color        string
	TargetX      float64 // 0: the target is off the axis
	TargetY1     float64
	TargetY2     float64
	Arrow        string // polygon points of a clipped bar's arrowhead
}

// writeChart writes a horizontal bar chart of bars as SVG: one row per
// bar from 1.0 to its ratio on a log axis (left is connkit faster), green
// when its target is met and red when not, a dark tick at the target.
// Ratios off the axis (0.1x to 10x at most) are drawn to its end with an
// arrowhead; the text beside each bar gives the exact figure.
func writeChart(w io.Writer, bars []bar) error {
	lo, hi := axisDomain(bars)
	x := func(v float64) float64 {
		f := (math.Log(v) - math.Log(lo)) / (math.Log(hi) - math.Log(lo))
		return plotLeft + math.Max(0, math.Min(1, f))*(plotRight-plotLeft)
	}
	d := chartData{
		Width:     chartWidth,
		LabelX:    plotLeft - 18,
		ValueX:    plotRight + 20,
		BarHeight: barHeight,
		Height:    plotTop + max(1, len(bars))*rowHeight + 44,
		Title:     "connkit time / peer time (lower is better)",
		Note:      "Log scale; left of 1.0 connkit is faster. Green: met; red: missed (waived: see RESULTS.md); dark tick: the target; arrowhead: off the axis.",
		One:       x(1),
		Top:       plotTop - 8,
		Bottom:    plotTop + max(1, len(bars))*rowHeight,
	}
	if len(bars) == 0 {
		d.Empty = "No headline ratio was measured in this run."
	}
	d.Ticks = ticks(lo, hi, x)
	for i, b := range bars {
		d.Bars = append(d.Bars, layoutBar(b, i, lo, hi, x))
	}
	var buf bytes.Buffer
	if err := chartTemplate.Execute(&buf, d); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// layoutBar places bar b in row i.
func layoutBar(b bar, i int, lo, hi float64, x func(float64) float64) barData {
	y := float64(plotTop + i*rowHeight)
	bd := barData{
		Y:     y + (rowHeight-barHeight)/2,
		TextY: y + rowHeight/2 + 4,
		Label: b.Label,
		Value: fmtRatio(b.Ratio) + " (target ≤ " + fmtRatio(b.Target) + ")",
		Color: "#c62828",
	}
	if b.Met {
		bd.Color = "#2e7d32"
	} else if b.Waived {
		bd.Value += ", waived"
	}
	x0, x1 := x(1), x(b.Ratio)
	bd.X, bd.W = math.Min(x0, x1), math.Max(1, math.Abs(x1-x0))
	if b.Target >= lo && b.Target <= hi {
		bd.TargetX, bd.TargetY1, bd.TargetY2 = x(b.Target), bd.Y-5, bd.Y+barHeight+5
	}
	top, mid, bottom := bd.Y-3, bd.Y+barHeight/2, bd.Y+barHeight+3
	switch {
	case b.Ratio < lo:
		bd.Arrow = fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, top, x1-10, mid, x1, bottom)
	case b.Ratio > hi:
		bd.Arrow = fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, top, x1+10, mid, x1, bottom)
	}
	return bd
}

// axisDomain returns the ends of the log axis: the bounds around every
// ratio and target, at least 0.5 to 2. A figure beyond 0.1 or 10 does not
// widen it: its bar would squash the others, and is drawn to the axis's
// end with an arrowhead instead.
func axisDomain(bars []bar) (lo, hi float64) {
	first, last := axisBounds[0], axisBounds[len(axisBounds)-1]
	lo, hi = 0.5, 2.0
	for _, b := range bars {
		for _, v := range []float64{b.Ratio, b.Target} {
			if v >= first && v <= last {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	outLo, outHi := first, last
	for _, v := range axisBounds {
		if v <= lo {
			outLo = v
		}
	}
	for i := len(axisBounds) - 1; i >= 0; i-- {
		if axisBounds[i] >= hi {
			outHi = axisBounds[i]
		}
	}
	return outLo, outHi
}

// ticks returns the axis's ticks within [lo, hi], dropping any closer than
// minTickGap pixels to the one before.
func ticks(lo, hi float64, x func(float64) float64) []tickData {
	var out []tickData
	for _, t := range axisTicks {
		if t < lo || t > hi {
			continue
		}
		if n := len(out); n > 0 && x(t)-out[n-1].X < minTickGap && t != 1 {
			continue
		}
		out = append(out, tickData{X: x(t), Label: strconv.FormatFloat(t, 'g', -1, 64)})
	}
	return out
}

// escapeXML escapes s for an XML attribute or text node.
func escapeXML(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

var chartTemplate = template.Must(template.New("chart").Funcs(template.FuncMap{
	"esc": escapeXML,
	"px":  func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"add": func(a, b int) int { return a + b },
}).Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" font-family="sans-serif" font-size="13">
<rect width="{{.Width}}" height="{{.Height}}" fill="#ffffff"/>
<text x="16" y="26" font-size="16" font-weight="bold" fill="#222222">{{esc .Title}}</text>
<text x="16" y="48" fill="#555555">{{esc .Note}}</text>
{{- range .Ticks}}
<line x1="{{px .X}}" y1="{{$.Top}}" x2="{{px .X}}" y2="{{$.Bottom}}" stroke="#e0e0e0"/>
<text x="{{px .X}}" y="{{add $.Bottom 18}}" text-anchor="middle" fill="#555555">{{esc .Label}}</text>
{{- end}}
{{- if .Empty}}
<text x="{{px .One}}" y="{{add .Top 28}}" text-anchor="middle" fill="#555555">{{esc .Empty}}</text>
{{- end}}
{{- range .Bars}}
<text x="{{$.LabelX}}" y="{{px .TextY}}" text-anchor="end" fill="#222222">{{esc .Label}}</text>
<rect x="{{px .X}}" y="{{px .Y}}" width="{{px .W}}" height="{{$.BarHeight}}" fill="{{.Color}}"/>
{{- if .Arrow}}
<polygon points="{{.Arrow}}" fill="{{.Color}}"/>
{{- end}}
{{- if .TargetX}}
<line x1="{{px .TargetX}}" y1="{{px .TargetY1}}" x2="{{px .TargetX}}" y2="{{px .TargetY2}}" stroke="#222222" stroke-width="3"/>
{{- end}}
<text x="{{$.ValueX}}" y="{{px .TextY}}" fill="#222222">{{esc .Value}}</text>
{{- end}}
<line x1="{{px .One}}" y1="{{.Top}}" x2="{{px .One}}" y2="{{.Bottom}}" stroke="#333333" stroke-width="1.5"/>
<text x="16" y="{{add .Bottom 18}}" fill="#555555">ratio</text>
</svg>
`))
