package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// result is one line of `go test -bench` output: one run of one benchmark.
type result struct {
	Name   string             // full name without the -GOMAXPROCS suffix
	Values map[string]float64 // by unit: "ns/op", "B/op", "overhead-ms", ...
	Units  []string           // the units in the order the line gives them
}

// procsSuffix is the -GOMAXPROCS suffix the testing package adds to a
// benchmark's name when GOMAXPROCS is above 1.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// parseResults reads benchmark lines in the Go benchmark format (what
// benchstat reads) and returns them in order. Other lines (goos:, PASS, a
// test's log) are skipped; a Benchmark line that does not parse is an
// error.
func parseResults(r io.Reader) ([]result, error) {
	var out []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // a benchmark's log line, not a result
		}
		res, err := parseLine(fields)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// parseLine parses the fields of a result line: name, iterations, then
// value-unit pairs.
func parseLine(fields []string) (result, error) {
	rest := fields[2:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		return result{}, fmt.Errorf("%s: want value-unit pairs after the iterations, got %q", fields[0], rest)
	}
	res := result{
		Name:   procsSuffix.ReplaceAllString(fields[0], ""),
		Values: make(map[string]float64, len(rest)/2),
	}
	for i := 0; i < len(rest); i += 2 {
		v, err := strconv.ParseFloat(rest[i], 64)
		if err != nil {
			return result{}, fmt.Errorf("%s: value %q: %w", fields[0], rest[i], err)
		}
		unit := rest[i+1]
		if _, dup := res.Values[unit]; !dup {
			res.Units = append(res.Units, unit)
		}
		res.Values[unit] = v
	}
	return res, nil
}

// splitName splits a sub-benchmark's full name into its top-level
// benchmark, the value of its key=value segment named column (empty when
// it has none) and the remaining segments, its scenario.
func splitName(name, column string) (top, col, scenario string) {
	segs := strings.Split(name, "/")
	top = segs[0]
	var rest []string
	for _, s := range segs[1:] {
		if k, v, ok := strings.Cut(s, "="); ok && column != "" && k == column {
			col = v
			continue
		}
		rest = append(rest, s)
	}
	return top, col, strings.Join(rest, "/")
}
