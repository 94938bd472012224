package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was written (go test -update rewrites it); got:\n%s", path, got)
	}
}

// fixtureReport is a report of the raw runs in testdata/, on a fixed
// machine and date.
func fixtureReport(t *testing.T) *report {
	t.Helper()
	rep := &report{
		Machine: machine{CPU: "Test CPU", CPUs: 2, MemGiB: 24, GOOS: "linux", GOARCH: "amd64",
			GoVersion: "go1.26.8"},
		Date:      "2026-01-02 15:04 UTC",
		Command:   commandLine([]string{"-bench", "Pool|WS|MySQL|RedisReset|ByName"}),
		Count:     10,
		Benchtime: "300ms",
	}
	for _, sp := range specs {
		raw, err := os.ReadFile(filepath.Join("testdata", sp.File+".txt"))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		tb, err := tableFromOutput(sp, raw)
		if err != nil {
			t.Fatal(err)
		}
		rep.Tables = append(rep.Tables, tb)
	}
	return rep
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := writeMarkdown(&b, fixtureReport(t)); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "RESULTS.golden.md", b.Bytes())
}

func TestChartGolden(t *testing.T) {
	var b bytes.Buffer
	if err := writeChart(&b, fixtureReport(t).headlines()); err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, b.Bytes())
	checkGolden(t, "results.golden.svg", b.Bytes())
}
