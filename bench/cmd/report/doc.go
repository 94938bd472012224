// Command report runs connkit's comparative benchmarks and writes their
// summary: RESULTS.md (a table per benchmark, connkit against each peer,
// and whether each target of the issues is met) and results.svg (a bar
// chart of the headline ratios), with the raw runs in testdata/.
//
// From the repository root:
//
//	go run ./bench/cmd/report                           # the full run: -count 10, about 8 minutes on 2 cores
//	go run ./bench/cmd/report -quick -out /tmp/report   # a smoke test
//
// It runs `go test -run '^$' -bench '^Name$' -count 1` -count times per
// top-level benchmark in the bench directory (rounds, so that connkit's runs
// and its peers' alternate and a machine's drift shows in neither alone),
// and prints a progress line for each benchmark to stderr. It
// summarizes the runs itself, as benchstat does: the median of the -count
// runs, a 95% confidence interval for it from order statistics, and a
// Mann-Whitney U test for each ratio. Nothing is written unless every
// benchmark succeeds; a failing one aborts the report with its output.
//
// # Adding a benchmark
//
// Every benchmark the report runs has an entry in specs.go: its section's
// title and prose, the name segment whose values are the table's columns
// (usually Impl), the column that is connkit's, and the targets of its
// issue. A benchmark in bench/ with no entry is reported on stderr and not
// run.
package main
