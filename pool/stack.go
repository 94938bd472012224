package pool

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
)

// maxStackDepth bounds a captured stack.
const maxStackDepth = 32

// stackInfo is a captured acquisition stack: program counters only,
// symbolized when reported.
type stackInfo struct {
	pcs []uintptr
}

// captureStack records the stack of the goroutine acquiring a connection.
// It costs a runtime.Callers and two allocations; the frames of this package's
// acquire path are dropped when the stack is symbolized.
func captureStack() *stackInfo {
	var buf [maxStackDepth]uintptr
	n := runtime.Callers(3, buf[:]) // skip Callers, captureStack, recordBorrow
	return &stackInfo{pcs: append([]uintptr(nil), buf[:n]...)}
}

// poolFuncPrefixes name the functions of the acquire path, to be left out of
// reports: the caller of Acquire is what a report must point at.
var poolFuncPrefixes = func() []string {
	pkg := reflect.TypeFor[labelKey]().PkgPath()
	return []string{pkg + ".(*Pool[", pkg + ".(*Keyed[", pkg + ".(*Conn[", "runtime."}
}()

func isPoolFrame(fn string) bool {
	for _, p := range poolFuncPrefixes {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// frames returns the symbolized frames, without the acquire path.
func (s *stackInfo) frames() []runtime.Frame {
	var out []runtime.Frame
	it := runtime.CallersFrames(s.pcs)
	for {
		f, more := it.Next()
		if !isPoolFrame(f.Function) {
			out = append(out, f)
		}
		if !more {
			return out
		}
	}
}

// String returns the frames as "function\n\tfile:line\n" each.
func (s *stackInfo) String() string {
	var sb strings.Builder
	for _, f := range s.frames() {
		fmt.Fprintf(&sb, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
	}
	return sb.String()
}

// caller returns the name of the function that acquired, without its
// package path: "server.(*API).user", or "" when unknown.
func (s *stackInfo) caller() string {
	fs := s.frames()
	if len(fs) == 0 {
		return ""
	}
	fn := fs[0].Function
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		fn = fn[i+1:]
	}
	return fn
}
