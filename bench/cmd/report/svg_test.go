package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// checkWellFormed fails t unless svg is well-formed XML whose root is an
// <svg> with an explicit width and height, as GitHub needs to show it.
func checkWellFormed(t *testing.T, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var root *xml.StartElement
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && root == nil {
			root = &se
		}
	}
	if root == nil || root.Name.Local != "svg" {
		t.Fatalf("root element = %v, want svg", root)
	}
	attrs := map[string]string{}
	for _, a := range root.Attr {
		attrs[a.Name.Local] = a.Value
	}
	for _, name := range []string{"width", "height", "viewBox", "font-family"} {
		if attrs[name] == "" {
			t.Errorf("<svg> has no %s", name)
		}
	}
}

func TestChartSmall(t *testing.T) {
	bars := []bar{
		{Label: "met & <escaped>", Ratio: 0.9, Target: 1.15, Met: true},
		{Label: "missed", Ratio: 1.36, Target: 1, Met: false},
		{Label: "far left", Ratio: 0.0002, Target: 0.001, Met: true},
		{Label: "waived", Ratio: 1.2, Target: 1.1, Waived: true},
	}
	var b bytes.Buffer
	if err := writeChart(&b, bars); err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, b.Bytes())
	checkGolden(t, "chart-small.golden.svg", b.Bytes())
	s := b.String()
	for _, want := range []string{"met &amp; &lt;escaped&gt;", "#2e7d32", "#c62828", "<polygon", "0.0002x", "1.20x (target ≤ 1.10x), waived"} {
		if !strings.Contains(s, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestChartEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := writeChart(&b, nil); err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, b.Bytes())
	if !strings.Contains(b.String(), "No headline ratio") {
		t.Error("an empty chart does not say so")
	}
}

func TestAxisDomain(t *testing.T) {
	tests := []struct {
		name         string
		give         []bar
		wantLo, want float64
	}{
		{"none", nil, 0.5, 2},
		{"near one", []bar{{Ratio: 1.36, Target: 1}}, 0.5, 2},
		{"wide", []bar{{Ratio: 2.3, Target: 1.15}, {Ratio: 0.3, Target: 1}}, 0.2, 5},
		{"off the axis", []bar{{Ratio: 0.0002, Target: 0.001}, {Ratio: 40, Target: 1}}, 0.5, 2},
		{"near the ends", []bar{{Ratio: 0.15, Target: 1}, {Ratio: 9, Target: 1}}, 0.1, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := axisDomain(tt.give)
			if lo != tt.wantLo || hi != tt.want {
				t.Errorf("axisDomain = %v, %v; want %v, %v", lo, hi, tt.wantLo, tt.want)
			}
		})
	}
}
