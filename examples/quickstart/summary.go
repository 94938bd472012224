package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/connkit/connkit/pool"
)

// summary prints the counters of every pool and client of the run. It runs
// after the shutdown, so that every connection is accounted for: dialed,
// then destroyed for a reason.
func (d *demo) summary() {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintln(d.out, "\nsummary")
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   pool\tacquires\tdials\tdial errors\tresets\tdestroyed\t(why)")
	for _, p := range d.pools {
		st := p.Stats()
		fmt.Fprintf(tw, "   %s\t%d\t%d\t%d\t%d\t%d\t%s\n", st.Name, st.Acquires, st.Dials, st.DialErrors,
			st.Resets, st.Destroyed.Total(), destroyedBy(st.Destroyed))
	}
	tw.Flush()
	fmt.Fprintln(d.out)
	tw = tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   wsclient\tconnects\tdial errors\tmessages out\tmessages in\tdropped")
	for _, c := range d.wss {
		st := c.Stats()
		fmt.Fprintf(tw, "   %s\t%d\t%d\t%d\t%d\t%d\n", "echo", st.Connects, st.DialErrors, st.MessagesOut, st.MessagesIn, st.Dropped)
	}
	tw.Flush()
}

// destroyedBy lists the reasons connections were destroyed for, with counts.
func destroyedBy(ds pool.DestroyStats) string {
	var why []string
	for _, r := range []struct {
		name string
		n    int64
	}{
		{"broken", ds.Broken}, {"ping", ds.Ping}, {"reset", ds.Reset}, {"idle", ds.Idle},
		{"lifetime", ds.Lifetime}, {"dropped", ds.Dropped}, {"close", ds.Close},
	} {
		if r.n > 0 {
			why = append(why, fmt.Sprintf("%s %d", r.name, r.n))
		}
	}
	return strings.Join(why, ", ")
}
