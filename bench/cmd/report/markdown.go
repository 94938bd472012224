package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// report is everything RESULTS.md shows.
type report struct {
	Machine   machine
	Date      string // "2026-01-02 15:04 UTC"
	Command   string // the report command as run
	Count     int
	Benchtime string
	Tables    []*table // one per benchmark run, in specs order
}

// headlines returns the chart's bars: the measured targets that have one.
func (r *report) headlines() []bar {
	var bars []bar
	for _, t := range r.Tables {
		for _, tg := range t.Spec.Targets {
			if tg.Chart == "" {
				continue
			}
			if v := tg.check(t); v.Measured {
				bars = append(bars, bar{Label: tg.Chart, Ratio: v.Ratio, Target: tg.Limit, Met: v.Met, Waived: tg.Waived != ""})
			}
		}
	}
	return bars
}

// writeMarkdown writes RESULTS.md: the header, the chart, a summary of
// the targets, then one section per benchmark.
func writeMarkdown(w io.Writer, r *report) error {
	var b bytes.Buffer
	r.writeHeader(&b)
	r.writeTargets(&b)
	for _, t := range r.Tables {
		writeSection(&b, t, r.Count, r.Benchtime)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func (r *report) writeHeader(b *bytes.Buffer) {
	fmt.Fprintf(b, "# Benchmark results\n\n")
	fmt.Fprintf(b, "Written by `bench/cmd/report`: run it again rather than editing this file\n")
	fmt.Fprintf(b, "(the prose of each section is in `bench/cmd/report/specs.go`).\n\n")
	fmt.Fprintf(b, "- Machine: %s\n", r.Machine)
	fmt.Fprintf(b, "- Go: %s\n", r.Machine.GoVersion)
	fmt.Fprintf(b, "- Date: %s\n", r.Date)
	fmt.Fprintf(b, "- Command: `%s`, which runs, in `bench/`, for each benchmark, %d rounds of\n", r.Command, r.Count)
	fmt.Fprintf(b, "  `go test -run '^$' -bench '^Name$' -count 1 -benchtime %s .`\n", r.Benchtime)
	fmt.Fprintf(b, "  (each round runs every implementation once, so that their runs alternate)\n\n")
	fmt.Fprintf(b, "A cell is the median of the %d runs ± the 95%% confidence interval of that\n", r.Count)
	fmt.Fprintf(b, "median, as `benchstat` shows it (±∞: too few runs for one). A ratio is of\n")
	fmt.Fprintf(b, "medians, connkit's over the peer's unless its heading says otherwise, so\n")
	fmt.Fprintf(b, "below 1 connkit is faster or smaller; `~` marks a difference that is not\n")
	fmt.Fprintf(b, "significant (Mann-Whitney U test, p ≥ 0.05). Targets are judged on the\n")
	fmt.Fprintf(b, "medians. The raw runs are in `testdata/`, one file per benchmark, for\n")
	fmt.Fprintf(b, "`benchstat`.\n\n")
	fmt.Fprintf(b, "On a shared virtual machine like the one above, medians move by up to a\n")
	fmt.Fprintf(b, "fifth between whole runs of the report (the host's other tenants), so a\n")
	fmt.Fprintf(b, "ratio within about 20%% of its target can be met in one run and missed in\n")
	fmt.Fprintf(b, "the next: read the intervals, and run the report again before deciding.\n\n")
	fmt.Fprintf(b, "![Headline ratios: connkit's time over each peer's, with the targets](results.svg)\n\n")
}

// writeTargets writes the table of every target and its verdict.
func (r *report) writeTargets(b *bytes.Buffer) {
	fmt.Fprintf(b, "## Targets\n\n")
	fmt.Fprintf(b, "| Benchmark | Measure | Target | Measured | Verdict |\n")
	fmt.Fprintf(b, "|:--|:--|:--|--:|:--|\n")
	for _, t := range r.Tables {
		for _, tg := range t.Spec.Targets {
			v := tg.check(t)
			got := v.Got
			if !v.Measured {
				got = "—"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n",
				shortName(t.Spec.Bench), cellText(tg.What), cellText(tg.Goal), cellText(got), verdictWord(tg, v))
		}
	}
	b.WriteString("\n")
}

// writeSection writes one benchmark's section: prose, where its raw runs
// are, a table per unit, and its targets.
func writeSection(b *bytes.Buffer, t *table, count int, benchtime string) {
	sp := t.Spec
	fmt.Fprintf(b, "## %s\n\n%s\n\n", sp.Title, sp.Prose)
	raw := "testdata/" + sp.File + ".txt"
	col := ""
	if sp.Column != "" {
		col = "-col /" + sp.Column + " "
	}
	fmt.Fprintf(b, "`%s`, %d runs of %s: raw in [%s](%s) (`benchstat %s%s`).\n\n",
		sp.Bench, count, benchtime, raw, raw, col, raw)
	for _, u := range t.Units {
		writeUnitTable(b, t, u)
	}
	if len(sp.Targets) == 0 {
		fmt.Fprintf(b, "No target was set for this benchmark.\n\n")
		return
	}
	fmt.Fprintf(b, "Targets:\n\n")
	for _, tg := range sp.Targets {
		v := tg.check(t)
		line := fmt.Sprintf("- %s: target %s: %s", tg.What, tg.Goal, verdictWord(tg, v))
		if v.Measured {
			line = fmt.Sprintf("- %s: %s; target %s: %s", tg.What, v.Got, tg.Goal, verdictWord(tg, v))
		}
		if note := verdictNote(v); note != "" {
			line += " (" + note + ")"
		}
		b.WriteString(line + ".\n")
	}
	b.WriteString("\n")
}

// writeUnitTable writes t's table for one unit: a row per scenario, a
// column per implementation, then a ratio column per peer.
func writeUnitTable(b *bytes.Buffer, t *table, unit string) {
	heading := unit
	if unit == "ns/op" {
		heading = "time/op"
	}
	fmt.Fprintf(b, "%s:\n\n", heading)
	head := []string{"Scenario"}
	align := []string{":--"}
	for _, c := range t.Cols {
		head, align = append(head, c), append(align, "--:")
	}
	for _, c := range t.Cols[1:] {
		head, align = append(head, t.ratioHeader(c)), append(align, "--:")
	}
	writeRow(b, head)
	writeRow(b, align)
	for _, row := range t.Rows {
		cells := []string{rowLabel(t, row)}
		for _, c := range t.Cols {
			s, ok := t.summary(row, c, unit)
			cells = append(cells, dash(ok, func() string { return fmtSummary(s, unit) }))
		}
		for _, c := range t.Cols[1:] {
			r, ok := t.peerRatio(row, c, unit)
			cells = append(cells, dash(ok, func() string { return fmtRatioCell(r) }))
		}
		writeRow(b, cells)
	}
	b.WriteString("\n")
}

// dash returns f() when ok, and an em dash for a cell with no figure.
func dash(ok bool, f func() string) string {
	if !ok {
		return "—"
	}
	return f()
}

func writeRow(b *bytes.Buffer, cells []string) {
	for i := range cells {
		cells[i] = cellText(cells[i])
	}
	fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
}

// rowLabel names a scenario; a benchmark without sub-benchmarks has one,
// named after the benchmark.
func rowLabel(t *table, row string) string {
	if row == "" {
		return shortName(t.Spec.Bench)
	}
	return row
}

// shortName drops the Benchmark prefix: "WSEcho".
func shortName(bench string) string { return strings.TrimPrefix(bench, "Benchmark") }

// cellText escapes the one character that breaks a Markdown table cell.
func cellText(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
