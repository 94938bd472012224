package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// runner runs `go test` in the bench directory.
type runner struct {
	dir       string // the bench directory
	count     int
	benchtime string
	timeout   time.Duration
}

// goCmd returns a go command run in r.dir, stopped by an interrupt (then
// killed 10s later) when ctx ends.
func (r runner) goCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = r.dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// benchArgs returns the go test arguments that run one top-level benchmark
// once: one round.
func (r runner) benchArgs(name string) []string {
	return []string{"test", "-run", "^$", "-bench", "^" + name + "$",
		"-count", "1", "-benchtime", r.benchtime,
		"-timeout", r.timeout.String(), "."}
}

// bench runs one top-level benchmark r.count times and returns the output
// of every round: stdout and stderr interleaved, as a terminal shows them.
// A failure's error carries the output.
//
// Each round runs every implementation once, so that the runs of connkit
// and of its peers alternate. With go test's own -count, each sub-benchmark
// runs count times in a row: on a shared machine whose speed drifts over
// seconds, connkit's runs and a peer's then land in different weather, and
// the drift shows up in their ratio.
func (r runner) bench(ctx context.Context, name string) ([]byte, error) {
	var out bytes.Buffer
	for round := range r.count {
		cmd := r.goCmd(ctx, r.benchArgs(name)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s failed in round %d of %d (%v):\n%s", name, round+1, r.count, err, out.Bytes())
		}
	}
	return out.Bytes(), nil
}

// list returns the names of the top-level benchmarks in the bench package.
func (r runner) list(ctx context.Context) ([]string, error) {
	var stderr bytes.Buffer
	cmd := r.goCmd(ctx, "test", "-list", "^Benchmark", ".")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -list: %v:\n%s%s", err, out, stderr.Bytes())
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			names = append(names, strings.TrimSpace(line))
		}
	}
	return names, nil
}

// goOutput returns the trimmed output of a go command run in r.dir.
func (r runner) goOutput(ctx context.Context, args ...string) (string, error) {
	out, err := r.goCmd(ctx, args...).Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
