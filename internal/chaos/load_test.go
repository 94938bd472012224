package chaos

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// load runs op from many goroutines until stopped, and keeps a timeline of
// successes, a tally of errors by kind and the acquire waits. A load made
// by newLoad runs nothing: it tallies what its caller records.
type load struct {
	start  time.Time
	bucket time.Duration
	stop   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex // protects the fields below
	ok       []int      // successes per bucket
	errs     map[string]int
	examples map[string]string
	slowest  time.Duration   // the longest op, success or not
	slowErr  string          // its error's kind, or "ok"
	waits    []time.Duration // of every acquire, failed ones included
}

// op does one operation; it returns how long it waited for a connection,
// or until the acquire failed (for the wait percentiles), and its error.
type op func(ctx context.Context, worker int) (wait time.Duration, err error)

// newLoad returns a load with no workers, for record.
func newLoad() *load {
	return &load{start: time.Now(), bucket: 100 * time.Millisecond, stop: make(chan struct{}), errs: map[string]int{}, examples: map[string]string{}}
}

// startLoad runs op from n goroutines, each call bounded by timeout.
func startLoad(t *testing.T, n int, timeout time.Duration, fn op, classify func(error) string) *load {
	l := newLoad()
	for w := range n {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				began := time.Now()
				wait, err := fn(ctx, w)
				took := time.Since(began)
				cancel()
				l.record(began, took, wait, err, classify)
				if err != nil {
					time.Sleep(5 * time.Millisecond) // as a client would, rather than spin
				}
			}
		})
	}
	t.Cleanup(l.halt)
	return l
}

// record tallies one op that began at at and took took, of which it waited
// wait for a connection (negative: the op acquires nothing).
func (l *load) record(at time.Time, took, wait time.Duration, err error, classify func(error) string) {
	kind := "ok"
	if err != nil {
		kind = classify(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if took > l.slowest {
		l.slowest, l.slowErr = took, kind
	}
	if wait >= 0 {
		l.waits = append(l.waits, wait)
	}
	if err != nil {
		l.errs[kind]++
		if _, ok := l.examples[kind]; !ok {
			l.examples[kind] = err.Error()
		}
		return
	}
	i := int(at.Sub(l.start) / l.bucket)
	for len(l.ok) <= i {
		l.ok = append(l.ok, 0)
	}
	l.ok[i]++
}

// halt stops the load and waits for every worker.
func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// rate returns the successes per second between from and to.
func (l *load) rate(from, to time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, b := int(from.Sub(l.start)/l.bucket), int(to.Sub(l.start)/l.bucket)
	n := 0
	for i := a; i < b && i < len(l.ok); i++ {
		n += l.ok[i]
	}
	return float64(n) / to.Sub(from).Seconds()
}

// recoveredAt returns the start of the first window of 3 buckets from
// after on for which ok holds, or the zero time.
func (l *load) recoveredAt(after time.Time, ok func(from, to time.Time) bool) time.Time {
	for at := after; at.Before(time.Now().Add(-3 * l.bucket)); at = at.Add(l.bucket) {
		if ok(at, at.Add(3*l.bucket)) {
			return at
		}
	}
	return time.Time{}
}

// summary is the load's figures in a form for logs and RELIABILITY.md:
// operations, failed ones included, errors by kind, and the percentiles of
// the acquire waits, failed acquires included.
func (l *load) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	waits := slices.Clone(l.waits)
	slices.Sort(waits)
	pct := func(p float64) time.Duration {
		if len(waits) == 0 {
			return 0
		}
		return waits[int(p*float64(len(waits)-1))]
	}
	return fmt.Sprintf("%s acquire wait p50=%v p99=%v slowest op=%v (%s)",
		l.countsLocked(), pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), l.slowest.Round(time.Millisecond), l.slowErr)
}

// counts is the load's operations, failed ones included, and errors by
// kind.
func (l *load) counts() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.countsLocked()
}

// countsLocked is counts; l.mu must be held.
func (l *load) countsLocked() string {
	ok, failed := 0, 0
	for _, n := range l.ok {
		ok += n
	}
	var kinds []string
	for k, n := range l.errs {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		failed += n
	}
	sort.Strings(kinds)
	return fmt.Sprintf("ops=%d (ok %d, failed %d) errors=[%s]", ok+failed, ok, failed, strings.Join(kinds, " "))
}

// combine returns a load with no workers that holds the figures of ls
// together, for a summary of them all. The loads must be halted.
func combine(ls ...*load) *load {
	all := newLoad()
	all.ok = []int{0}
	for _, l := range ls {
		l.mu.Lock()
		for _, n := range l.ok {
			all.ok[0] += n
		}
		for k, n := range l.errs {
			all.errs[k] += n
			if _, ok := all.examples[k]; !ok {
				all.examples[k] = l.examples[k]
			}
		}
		all.waits = append(all.waits, l.waits...)
		if l.slowest > all.slowest {
			all.slowest, all.slowErr = l.slowest, l.slowErr
		}
		l.mu.Unlock()
	}
	return all
}

// checkErrors fails t for a reply that answered another request and for
// an error kind not in knownErrors; prefix starts each message. The load
// must be halted.
func (l *load) checkErrors(t *testing.T, prefix string) {
	t.Helper()
	if n := l.errs["MISMATCH"]; n != 0 {
		t.Errorf("%s%d replies did not answer their request: %s", prefix, n, l.examples["MISMATCH"])
	}
	for _, e := range l.unknownErrors(knownErrors...) {
		t.Errorf("%san error a caller cannot act on: %s", prefix, e)
	}
}

// firstErrors returns the first error of each kind.
func (l *load) firstErrors() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, k := range slices.Sorted(maps.Keys(l.examples)) {
		out = append(out, k+": "+l.examples[k])
	}
	return strings.Join(out, "; ")
}

// unknownErrors returns an example of each error kind not in known.
func (l *load) unknownErrors(known ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, ex := range l.examples {
		if !slices.Contains(known, k) {
			out = append(out, k+": "+ex)
		}
	}
	return out
}

// timeline returns the successes per bucket from from until now.
func (l *load) timeline(from time.Time) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, b := max(int(from.Sub(l.start)/l.bucket), 0), int(time.Since(l.start)/l.bucket)
	out := make([]int, max(b-a, 0))
	for i := range out {
		if a+i < len(l.ok) {
			out[i] = l.ok[a+i]
		}
	}
	return out
}

// failures returns the number of operations that failed.
func (l *load) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range l.errs {
		n += k
	}
	return n
}
