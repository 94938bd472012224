package connmgr

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type role string

// every holds one field of each supported type.
type every struct {
	S   string
	SC  string `connmgr:"size=4"`
	R   role
	B   bool
	I   int
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	U   uint
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
	F32 float32
	F64 float64
	T   time.Time
}

func TestSchemaRoundTrip(t *testing.T) {
	t.Parallel()
	tb, err := New[every](Options{})
	if err != nil {
		t.Fatal(err)
	}
	give := every{
		S: "héllo", SC: "abcd", R: "admin", B: true,
		I: -1 << 40, I8: -128, I16: -32768, I32: -1 << 31, I64: -1 << 63,
		U: 1 << 50, U8: 255, U16: 65535, U32: 1<<32 - 1, U64: 1<<64 - 1,
		F32: 1.5, F64: -2.25e300, T: time.Date(2024, 2, 29, 12, 0, 0, 7, time.UTC),
	}
	id := NextID()
	if err := tb.Push(id, "n", give); err != nil {
		t.Fatal(err)
	}
	e, ok := tb.Get(id)
	if !ok || e.ID != id || e.Name != "n" || e.Attrs != give {
		t.Fatalf("Get = %+v, %v; want %+v", e, ok, give)
	}
}

func TestSchemaErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give reflect.Type
		want string // in the error; "" for no error
	}{
		{"empty struct", reflect.TypeFor[struct{}](), ""},
		{"not a struct", reflect.TypeFor[string](), "must be a struct, not string"},
		{"pointer to struct", reflect.TypeFor[*attrs](), "must be a struct"},
		{"unexported", reflect.TypeFor[struct{ x int }](), "field x: unexported"},
		{"pointer", reflect.TypeFor[struct{ P *int }](), "field P: type *int cannot be stored"},
		{"slice", reflect.TypeFor[struct{ S []byte }](), "field S: type []uint8 cannot be stored"},
		{"map", reflect.TypeFor[struct{ M map[string]int }](), "cannot be stored"},
		{"array", reflect.TypeFor[struct{ A [2]int }](), "cannot be stored"},
		{"interface", reflect.TypeFor[struct{ I any }](), "cannot be stored"},
		{"chan", reflect.TypeFor[struct{ C chan int }](), "cannot be stored"},
		{"func", reflect.TypeFor[struct{ F func() }](), "cannot be stored"},
		{"complex", reflect.TypeFor[struct{ C complex128 }](), "cannot be stored"},
		{"uintptr", reflect.TypeFor[struct{ U uintptr }](), "cannot be stored"},
		{"nested struct", reflect.TypeFor[struct{ N attrs }](), "field N: type connmgr.attrs cannot be stored"},
		{"embedded time", reflect.TypeFor[struct{ time.Time }](), ""},
		{"size on int", reflect.TypeFor[struct {
			N int `connmgr:"size=3"`
		}](), "field N: tag size=3 on a int field"},
		{"size zero", reflect.TypeFor[struct {
			S string `connmgr:"size=0"`
		}](), "size must be an integer > 0"},
		{"size negative", reflect.TypeFor[struct {
			S string `connmgr:"size=-1"`
		}](), "size must be an integer > 0"},
		{"size not a number", reflect.TypeFor[struct {
			S string `connmgr:"size=big"`
		}](), "size must be an integer > 0"},
		{"size without value", reflect.TypeFor[struct {
			S string `connmgr:"size"`
		}](), "size must be an integer > 0"},
		{"size twice", reflect.TypeFor[struct {
			S string `connmgr:"size=1,size=2"`
		}](), "size given twice"},
		{"unknown key", reflect.TypeFor[struct {
			S string `connmgr:"max=3"`
		}](), `unknown key "max"`},
		{"empty tag", reflect.TypeFor[struct {
			S string `connmgr:""`
		}](), `unknown key ""`},
		{"dash", reflect.TypeFor[struct {
			S string `connmgr:"-"`
		}](), `unknown key "-"`},
		{"size with spaces", reflect.TypeFor[struct {
			S string `connmgr:" size=3 "`
		}](), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newSchema(tt.give)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("err = nil, want %q", tt.want)
			case err != nil && (!strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "connmgr: ")):
				t.Fatalf("err = %q, want it to start with connmgr: and contain %q", err, tt.want)
			}
		})
	}
}

// New reports schema errors for its type parameter.
func TestNewErrors(t *testing.T) {
	t.Parallel()
	if _, err := New[int](Options{}); err == nil {
		t.Error("New[int]: nil error")
	}
	if _, err := New[struct{ P *int }](Options{}); err == nil {
		t.Error("New with a pointer field: nil error")
	}
	if _, err := New[attrs](Options{Capacity: -1}); err == nil || !strings.Contains(err.Error(), "Options.Capacity") {
		t.Errorf("New with Capacity -1: err = %v", err)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		size int
		want string
	}{
		{"shorter", "abc", 4, "abc"},
		{"exact", "abcd", 4, "abcd"},
		{"ascii", "abcdef", 4, "abcd"},
		{"two-byte rune across limit", "aé", 2, "a"},
		{"two-byte rune at limit", "aé", 3, "aé"},
		{"three-byte runes", "€€", 5, "€"},
		{"four-byte rune", "😀x", 3, ""},
		{"four-byte rune then cut", "a😀", 4, "a"},
		{"invalid byte kept", "a\xffbc", 2, "a\xff"},
		{"lone continuation bytes", "\x80\x80\x80\x80\x80", 3, "\x80\x80\x80"},
		{"truncated sequence before limit", "ab\xe2\x82", 3, "ab\xe2"},
		{"replacement char is valid", "a\uFFFD", 2, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := truncate(tt.give, tt.size); got != tt.want {
				t.Fatalf("truncate(%q, %d) = %q, want %q", tt.give, tt.size, got, tt.want)
			}
		})
	}
}

// Push and Update cap strings, count the cuts, and leave valid UTF-8.
func TestCapOnPushAndUpdate(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	id := NextID()
	if err := tb.Push(id, "n", attrs{User: "ünïcödé-user"}); err != nil {
		t.Fatal(err)
	}
	e, _ := tb.Get(id)
	if e.Attrs.User != "ünïcö" || !utf8.ValidString(e.Attrs.User) {
		t.Fatalf("after Push, User = %q, want %q", e.Attrs.User, "ünïcö")
	}
	if err := tb.Update(id, func(a *attrs) { a.User = "0123456789" }); err != nil {
		t.Fatal(err)
	}
	e, _ = tb.Get(id)
	if e.Attrs.User != "01234567" {
		t.Fatalf("after Update, User = %q, want %q", e.Attrs.User, "01234567")
	}
	if err := tb.Update(id, func(a *attrs) { a.User = "short" }); err != nil {
		t.Fatal(err)
	}
	if got := tb.Stats().Truncations; got != 2 {
		t.Fatalf("Truncations = %d, want 2", got)
	}
}
