package connmgr

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTruncate checks truncate on any string and size: the result is a
// prefix of at most size bytes, and for valid UTF-8 it is the longest
// prefix that is valid UTF-8.
func FuzzTruncate(f *testing.F) {
	f.Add("héllo wörld", 3)
	f.Add("😀😀", 5)
	f.Fuzz(func(t *testing.T, in string, size int) {
		if size <= 0 {
			size = -size%64 + 1
		}
		out := truncate(in, size)
		if len(out) > size || !strings.HasPrefix(in, out) {
			t.Fatalf("truncate(%q, %d) = %q: not a prefix of at most %d bytes", in, size, out, size)
		}
		if len(in) <= size && out != in {
			t.Fatalf("truncate(%q, %d) = %q: cut a string that fits", in, size, out)
		}
		if !utf8.ValidString(in) || out == in {
			return
		}
		if !utf8.ValidString(out) {
			t.Fatalf("truncate(%q, %d) = %q: invalid UTF-8 from valid input", in, size, out)
		}
		if _, n := utf8.DecodeRuneInString(in[len(out):]); len(out)+n <= size {
			t.Fatalf("truncate(%q, %d) = %q: the next rune would fit", in, size, out)
		}
	})
}

// FuzzParseTag checks that any connmgr tag is either a size cap (a positive
// size) or an error: never silently ignored, never a panic.
func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"size=8", "size=0", "size=-1", "size=8,size=9", "", "-", "len=3", " size = 4 ", "size=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		size, err := parseTag(reflect.StructTag(`connmgr:` + strconv.Quote(v)))
		if err == nil && size <= 0 {
			t.Fatalf("tag %q accepted with size %d", v, size)
		}
		if err != nil && size != 0 {
			t.Fatalf("tag %q: error %v with size %d", v, err, size)
		}
	})
}
