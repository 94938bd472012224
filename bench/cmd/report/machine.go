package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the benchmarks ran.
type machine struct {
	CPU       string // model name; "unknown" when /proc/cpuinfo has none
	CPUs      int    // logical CPUs
	MemGiB    float64
	GOOS      string
	GOARCH    string
	GoVersion string // of the toolchain that ran the benchmarks
}

// String describes m in one line: "AMD EPYC 7B13, 2 logical CPUs, 24 GiB,
// linux/amd64".
func (m machine) String() string {
	s := fmt.Sprintf("%s, %d logical CPUs", m.CPU, m.CPUs)
	if m.MemGiB > 0 {
		s += fmt.Sprintf(", %.0f GiB", m.MemGiB)
	}
	return s + ", " + m.GOOS + "/" + m.GOARCH
}

// thisMachine describes the machine the report runs on; goVersion is the
// toolchain's, from `go env GOVERSION`.
func thisMachine(goVersion string) machine {
	m := machine{
		CPU:       procField("/proc/cpuinfo", "model name"),
		CPUs:      runtime.NumCPU(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		GoVersion: goVersion,
	}
	if m.CPU == "" {
		m.CPU = "unknown CPU"
	}
	if kb := strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"); kb != "" {
		if n, err := strconv.ParseFloat(kb, 64); err == nil {
			m.MemGiB = n / (1 << 20)
		}
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc
// file with the given key, or "" when there is none.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
