package main

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"nanos", fmtNanos(148.05), "148 ns"},
		{"micros", fmtNanos(1234.5), "1.23 µs"},
		{"millis", fmtNanos(22.1e6), "22.1 ms"},
		{"round millis", fmtNanos(24.0e3), "24.0 µs"},
		{"seconds", fmtNanos(2.1e9), "2.10 s"},
		{"bytes", fmtValue(37, "B/op"), "37"},
		{"fraction", fmtValue(2.1234, "overhead-ms"), "2.12"},
		{"ratio", fmtRatio(1.0034), "1.00x"},
		{"tiny ratio", fmtRatio(0.000214), "0.000214x"},
		{"infinite ratio", fmtRatio(math.Inf(1)), "∞"},
		{"summary", fmtSummary(summary{Median: 148.05, Lo: 147, Hi: 150}, "ns/op"), "148 ns ±1%"},
		{"no interval", fmtSummary(summary{Median: 2, Lo: math.Inf(-1), Hi: math.Inf(1)}, "B/op"), "2 ±∞"},
		{"not significant", fmtRatioCell(ratio{Value: 1.02, P: 0.6}), "1.02x ~"},
		{"count", fmtCount(4761.9), "4,762"},
		{"commandLine", commandLine([]string{"-bench", "WS|Pool", "-quick"}), "go run ./bench/cmd/report -bench 'WS|Pool' -quick"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick"})
	if err != nil || o.count != 3 || o.benchtime != "50ms" {
		t.Errorf("-quick: %+v, %v; want count 3, benchtime 50ms", o, err)
	}
	o, err = parseFlags([]string{"-quick", "-count", "5"})
	if err != nil || o.count != 5 {
		t.Errorf("-quick -count 5: %+v, %v; want count 5", o, err)
	}
	o, err = parseFlags(nil)
	if err != nil || o.count != 10 || o.benchtime != "300ms" || o.filter != "." {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"-count", "0"}); err == nil {
		t.Error("-count 0 accepted")
	}
}
