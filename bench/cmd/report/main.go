package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// benchPackage is the package that holds the benchmarks.
const benchPackage = "github.com/connkit/connkit/bench"

// options are the command's flags.
type options struct {
	count     int
	benchtime string
	filter    string
	out       string
	quick     bool
	timeout   time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// parseFlags parses args; -quick lowers -count and -benchtime unless they
// are given too.
func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.IntVar(&o.count, "count", 10, "`runs` of each benchmark (benchstat needs 6 for a confidence interval)")
	fs.StringVar(&o.benchtime, "benchtime", "300ms", "go test -benchtime of each run")
	fs.StringVar(&o.filter, "bench", ".", "run only the benchmarks whose name matches this `regexp`")
	fs.StringVar(&o.out, "out", "", "`dir`ectory for RESULTS.md, results.svg and testdata/ (default: the bench directory)")
	fs.BoolVar(&o.quick, "quick", false, "smoke test: -count 3 -benchtime 50ms unless given")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "go test -timeout of each benchmark; go test kills a hung benchmark with SIGQUIT (goroutines shown) a minute later")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick && !set["count"] {
		o.count = 3
	}
	if o.quick && !set["benchtime"] {
		o.benchtime = "50ms"
	}
	if o.count < 1 {
		return o, fmt.Errorf("-count %d: want at least 1", o.count)
	}
	return o, nil
}

func run(ctx context.Context, args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	filter, err := regexp.Compile(o.filter)
	if err != nil {
		return fmt.Errorf("-bench: %w", err)
	}
	r := runner{count: o.count, benchtime: o.benchtime, timeout: o.timeout}
	if r.dir, err = r.goOutput(ctx, "list", "-f", "{{.Dir}}", benchPackage); err != nil {
		return fmt.Errorf("finding the bench directory (run from the repository, whose go.work uses ./bench): %w", err)
	}
	out := o.out
	if out == "" {
		out = r.dir
	}
	selected, err := selectSpecs(ctx, r, filter)
	if err != nil {
		return err
	}
	goVersion, err := r.goOutput(ctx, "env", "GOVERSION")
	if err != nil {
		return err
	}
	rep := &report{
		Machine:   thisMachine(goVersion),
		Date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Command:   commandLine(args),
		Count:     o.count,
		Benchtime: o.benchtime,
	}
	return runAndWrite(ctx, r, selected, rep, out)
}

// selectSpecs returns the specs whose benchmark matches filter, after
// checking them against the benchmarks the bench package has. A benchmark
// with no spec is only reported: another engineer may be adding one.
func selectSpecs(ctx context.Context, r runner, filter *regexp.Regexp) ([]*spec, error) {
	have, err := r.list(ctx)
	if err != nil {
		return nil, err
	}
	var selected []*spec
	for _, sp := range specs {
		if !filter.MatchString(sp.Bench) {
			continue
		}
		if !slices.Contains(have, sp.Bench) {
			return nil, fmt.Errorf("%s is in specs.go but not in %s", sp.Bench, r.dir)
		}
		selected = append(selected, sp)
	}
	for _, name := range have {
		if !slices.ContainsFunc(specs, func(sp *spec) bool { return sp.Bench == name }) {
			fmt.Fprintf(os.Stderr, "report: %s has no entry in bench/cmd/report/specs.go: not run\n", name)
		}
	}
	if len(selected) == 0 {
		return nil, fmt.Errorf("-bench %q matches no benchmark", filter)
	}
	return selected, nil
}

// runAndWrite runs each benchmark, printing a progress line for each, then
// writes the raw outputs, RESULTS.md and results.svg into out. Everything
// goes to a staging directory in out first and is renamed into place only
// when every benchmark has succeeded.
func runAndWrite(ctx context.Context, r runner, selected []*spec, rep *report, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(out, ".report-") // a dot: go test ignores it
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	fmt.Fprintf(os.Stderr, "report: %d benchmarks, -count %d -benchtime %s, in %s\n",
		len(selected), r.count, r.benchtime, r.dir)
	var files []string // relative to out
	for i, sp := range selected {
		start := time.Now()
		raw, err := r.bench(ctx, sp.Bench)
		if err != nil {
			return err
		}
		t, err := tableFromOutput(sp, raw)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, raw)
		}
		rep.Tables = append(rep.Tables, t)
		name := filepath.Join("testdata", sp.File+".txt")
		if err := os.WriteFile(filepath.Join(stage, sp.File+".txt"), raw, 0o644); err != nil {
			return err
		}
		files = append(files, name)
		fmt.Fprintf(os.Stderr, "[%d/%d] %s (count %d): %s\n",
			i+1, len(selected), sp.Bench, r.count, time.Since(start).Round(time.Second))
	}
	var md, svg bytes.Buffer
	if err := writeMarkdown(&md, rep); err != nil {
		return err
	}
	if err := writeChart(&svg, rep.headlines()); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"RESULTS.md": md.Bytes(), "results.svg": svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(stage, name), data, 0o644); err != nil {
			return err
		}
	}
	files = append(files, "results.svg", "RESULTS.md")
	if err := os.MkdirAll(filepath.Join(out, "testdata"), 0o755); err != nil {
		return err
	}
	for _, name := range files {
		if err := os.Rename(filepath.Join(stage, filepath.Base(name)), filepath.Join(out, name)); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s and %s\n",
		filepath.Join(out, "RESULTS.md"), filepath.Join(out, "results.svg"))
	return nil
}

// tableFromOutput parses one benchmark's go test output into its table.
func tableFromOutput(sp *spec, raw []byte) (*table, error) {
	results, err := parseResults(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sp.Bench, err)
	}
	return newTable(sp, results)
}

// commandLine returns the report command as the user typed it, flags
// quoted for a shell where they need it.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench/cmd/report"}
	for _, a := range args {
		if strings.ContainsAny(a, " '\"$|*?\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
