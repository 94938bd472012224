package connmgr

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// tagKey is the struct tag key that connmgr reads.
const tagKey = "connmgr"

var timeType = reflect.TypeFor[time.Time]()

// schema is what New learned from the attribute struct: the string fields
// that carry a size cap. Every other field needs no work at run time.
type schema struct {
	capped []cappedField
}

// cappedField is a string field with a `connmgr:"size=N"` tag.
type cappedField struct {
	index int // in the struct's fields
	size  int // in bytes, > 0
}

// newSchema validates the struct type t and returns its schema, or an error
// that names the first field it cannot store.
func newSchema(t reflect.Type) (schema, error) {
	if t.Kind() != reflect.Struct {
		return schema{}, fmt.Errorf("connmgr: attributes must be a struct, not %v", t)
	}
	var s schema
	for i := range t.NumField() {
		f := t.Field(i)
		size, err := checkField(f)
		if err != nil {
			return schema{}, fmt.Errorf("connmgr: %v field %s: %w", t, f.Name, err)
		}
		if size > 0 {
			s.capped = append(s.capped, cappedField{index: i, size: size})
		}
	}
	return s, nil
}

// checkField reports why the field f cannot be stored, or returns the size
// cap of a string field (0 for none).
func checkField(f reflect.StructField) (int, error) {
	if !f.IsExported() {
		return 0, fmt.Errorf("unexported: the schema is the exported fields only (remove it, or export it)")
	}
	if !storable(f.Type) {
		return 0, fmt.Errorf("type %v cannot be stored: use a string, bool, integer, float or time.Time", f.Type)
	}
	size, err := parseTag(f.Tag)
	if err != nil {
		return 0, err
	}
	if size > 0 && f.Type.Kind() != reflect.String {
		return 0, fmt.Errorf("tag size=%d on a %v field: size applies to strings only", size, f.Type)
	}
	return size, nil
}

// storable reports whether a value of type t is copied whole by assignment
// and is a scalar a row can hold: nothing in it points into shared memory
// that a caller could change after Get.
func storable(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// parseTag returns the size in a `connmgr:"size=N"` tag, 0 when there is
// none, or an error for anything else in the tag.
func parseTag(tag reflect.StructTag) (int, error) {
	v, ok := tag.Lookup(tagKey)
	if !ok {
		return 0, nil
	}
	size := 0
	for part := range strings.SplitSeq(v, ",") {
		key, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		if key != "size" {
			return 0, fmt.Errorf("tag %q: unknown key %q (the only key is size=N)", v, key)
		}
		if size != 0 {
			return 0, fmt.Errorf("tag %q: size given twice", v)
		}
		n, err := strconv.Atoi(val)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("tag %q: size must be an integer > 0", v)
		}
		size = n
	}
	return size, nil
}

// capStrings truncates the capped string fields of a (a *A) in place and
// returns how many it truncated. It uses reflect, so it costs about 20 ns per capped
// field; a schema without caps costs nothing.
func (s *schema) capStrings(a any) int {
	if len(s.capped) == 0 {
		return 0
	}
	v := reflect.ValueOf(a).Elem()
	n := 0
	for _, c := range s.capped {
		f := v.Field(c.index)
		if str := f.String(); len(str) > c.size {
			f.SetString(truncate(str, c.size))
			n++
		}
	}
	return n
}

// truncate returns the longest prefix of s that is at most n bytes long and
// does not end inside a valid UTF-8 sequence. Invalid bytes are not
// repaired: they are kept or cut like single-byte runes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// s[n] is the first byte cut off. If it continues a rune that starts
	// at most UTFMax-1 bytes earlier, cut before that rune instead.
	for i := n; i >= 0 && i > n-utf8.UTFMax; i-- {
		if !utf8.RuneStart(s[i]) {
			continue
		}
		if i == n {
			return s[:n]
		}
		if _, size := utf8.DecodeRuneInString(s[i:]); i+size > n {
			return s[:i]
		}
		return s[:n]
	}
	return s[:n]
}
