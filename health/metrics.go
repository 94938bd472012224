package health

import (
	"github.com/prometheus/client_golang/prometheus"
)

// descs are the descriptions of a Monitor's metrics. Each Monitor has its
// own, so that nothing is shared between instances.
type descs struct {
	up                 *prometheus.Desc
	checkUp            *prometheus.Desc
	checkRequired      *prometheus.Desc
	checkLatency       *prometheus.Desc
	checkRuns          *prometheus.Desc
	checkFailures      *prometheus.Desc
	checkConsecutive   *prometheus.Desc
	checkLastChange    *prometheus.Desc
	poolConns          *prometheus.Desc
	poolMax            *prometheus.Desc
	poolDialsInFlight  *prometheus.Desc
	poolWaiting        *prometheus.Desc
	poolAcquires       *prometheus.Desc
	poolEmptyAcquires  *prometheus.Desc
	poolAcquireWait    *prometheus.Desc
	poolCanceled       *prometheus.Desc
	poolTimeouts       *prometheus.Desc
	poolDials          *prometheus.Desc
	poolDialErrors     *prometheus.Desc
	poolResets         *prometheus.Desc
	poolDestroyed      *prometheus.Desc
	poolOldestBorrowed *prometheus.Desc
}

// newDescs returns the descriptions of every metric a Collector exports.
func newDescs() *descs {
	check := []string{"check"}
	pl := []string{"pool"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("connkit_"+name, help, labels, nil)
	}
	return &descs{
		up:               d("health_up", "1 when every required check is up, else 0.", nil),
		checkUp:          d("check_up", "1 when the check is up, 0 when it is down or has not run yet.", check),
		checkRequired:    d("check_required", "1 for a required check, 0 for an optional one.", check),
		checkLatency:     d("check_latency_seconds", "How long the check's last run took.", check),
		checkRuns:        d("check_runs_total", "Runs of the check.", check),
		checkFailures:    d("check_failures_total", "Failed runs of the check.", check),
		checkConsecutive: d("check_consecutive_failures", "Failed runs of the check since its last pass.", check),
		checkLastChange: d("check_last_change_timestamp_seconds",
			"When the check's status last changed (or the check was added), in seconds since the Unix epoch.", check),

		poolConns: d("pool_connections",
			"Open connections of the pool by state: idle, borrowed, or maintenance (being pinged or reset by the pool).",
			[]string{"pool", "state"}),
		poolMax:           d("pool_max_connections", "The most connections the pool may hold at once (MaxSize).", pl),
		poolDialsInFlight: d("pool_dials_in_flight", "Dials of the pool in flight.", pl),
		poolWaiting:       d("pool_waiting", "Callers waiting in Acquire for a connection.", pl),
		poolAcquires:      d("pool_acquires_total", "Connections handed out by Acquire.", pl),
		poolEmptyAcquires: d("pool_empty_acquires_total",
			"Acquires that found no idle connection and waited for a dial or a release.", pl),
		poolAcquireWait: d("pool_acquire_wait_seconds_total", "Total time acquires waited.", pl),
		poolCanceled:    d("pool_canceled_acquires_total", "Acquires that ended with their context.", pl),
		poolTimeouts:    d("pool_acquire_timeouts_total", "Acquires that ended by a deadline.", pl),
		poolDials:       d("pool_dials_total", "Dials started.", pl),
		poolDialErrors:  d("pool_dial_errors_total", "Dials that failed.", pl),
		poolResets:      d("pool_resets_total", "Successful resets of dirty connections.", pl),
		poolDestroyed: d("pool_destroyed_total",
			"Connections destroyed, by reason: idle, lifetime, ping, reset, broken, dropped, close.",
			[]string{"pool", "reason"}),
		poolOldestBorrowed: d("pool_oldest_borrow_seconds",
			"How long the longest-held borrowed connection has been out; 0 when none is.", pl),
	}
}

// all returns every description.
func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.up, d.checkUp, d.checkRequired, d.checkLatency, d.checkRuns, d.checkFailures,
		d.checkConsecutive, d.checkLastChange,
		d.poolConns, d.poolMax, d.poolDialsInFlight, d.poolWaiting, d.poolAcquires,
		d.poolEmptyAcquires, d.poolAcquireWait, d.poolCanceled, d.poolTimeouts, d.poolDials,
		d.poolDialErrors, d.poolResets, d.poolDestroyed, d.poolOldestBorrowed,
	}
}

// Collector returns a prometheus.Collector that exports the Monitor's
// checks and pools at every scrape, from a fresh Report (so a scrape
// costs what Report costs and runs no check). Register it with any
// registry; it keeps no state of its own. Two Monitors' collectors need
// registries of their own: their metrics have the same names and labels,
// so a registry refuses the second as a duplicate.
//
// The metrics, each labeled by check, or by pool:
//
//	connkit_health_up                            gauge    1 when every required check is up
//	connkit_check_up{check}                      gauge    1 up, 0 down or unknown
//	connkit_check_required{check}                gauge    1 required, 0 optional
//	connkit_check_latency_seconds{check}         gauge    the last run's duration
//	connkit_check_runs_total{check}              counter
//	connkit_check_failures_total{check}          counter
//	connkit_check_consecutive_failures{check}    gauge
//	connkit_check_last_change_timestamp_seconds{check} gauge
//	connkit_pool_connections{pool,state}         gauge    state: idle, borrowed, maintenance
//	connkit_pool_max_connections{pool}           gauge
//	connkit_pool_dials_in_flight{pool}           gauge
//	connkit_pool_waiting{pool}                   gauge    callers waiting in Acquire
//	connkit_pool_acquires_total{pool}            counter
//	connkit_pool_empty_acquires_total{pool}      counter
//	connkit_pool_acquire_wait_seconds_total{pool} counter
//	connkit_pool_canceled_acquires_total{pool}   counter
//	connkit_pool_acquire_timeouts_total{pool}    counter
//	connkit_pool_dials_total{pool}               counter
//	connkit_pool_dial_errors_total{pool}         counter
//	connkit_pool_resets_total{pool}              counter
//	connkit_pool_destroyed_total{pool,reason}    counter  reason: idle, lifetime, ping, reset, broken, dropped, close
//	connkit_pool_oldest_borrow_seconds{pool}     gauge
//
// No metric carries an error text, so none can carry a secret.
func (m *Monitor) Collector() prometheus.Collector { return collector{m} }

// collector is a Monitor's prometheus.Collector.
type collector struct{ m *Monitor }

// Describe sends the description of every metric.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.m.descs.all() {
		ch <- d
	}
}

// Collect sends the metrics of a fresh Report.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	d := c.m.descs
	r := c.m.Report()
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, boolValue(r.Status == StatusUp))
	for name, cr := range r.Checks {
		gauge := func(desc *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, name)
		}
		counter := func(desc *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), name)
		}
		gauge(d.checkUp, boolValue(cr.Status == StatusUp))
		gauge(d.checkRequired, boolValue(cr.Required))
		gauge(d.checkLatency, cr.Latency.Seconds())
		counter(d.checkRuns, cr.Runs)
		counter(d.checkFailures, cr.Failures)
		gauge(d.checkConsecutive, float64(cr.ConsecutiveFailures))
		gauge(d.checkLastChange, float64(cr.Since.UnixNano())/1e9)
	}
	for name, pr := range r.Pools {
		collectPool(ch, d, name, pr)
	}
}

// collectPool sends the metrics of one pool.
func collectPool(ch chan<- prometheus.Metric, d *descs, name string, pr PoolReport) {
	s := pr.Stats
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
	}
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, append([]string{name}, labels...)...)
	}
	gauge(d.poolConns, float64(s.Idle), "idle")
	gauge(d.poolConns, float64(s.Borrowed), "borrowed")
	gauge(d.poolConns, float64(max(0, s.Open-s.Idle-s.Borrowed)), "maintenance")
	gauge(d.poolMax, float64(s.MaxSize))
	gauge(d.poolDialsInFlight, float64(s.Constructing))
	gauge(d.poolWaiting, float64(s.Waiting))
	counter(d.poolAcquires, float64(s.Acquires))
	counter(d.poolEmptyAcquires, float64(s.EmptyAcquires))
	counter(d.poolAcquireWait, s.AcquireWait.Seconds())
	counter(d.poolCanceled, float64(s.CanceledAcquires))
	counter(d.poolTimeouts, float64(s.Timeouts))
	counter(d.poolDials, float64(s.Dials))
	counter(d.poolDialErrors, float64(s.DialErrors))
	counter(d.poolResets, float64(s.Resets))
	for reason, n := range destroyedByReason(s.Destroyed) {
		counter(d.poolDestroyed, float64(n), reason)
	}
	gauge(d.poolOldestBorrowed, pr.OldestBorrow.Seconds())
}

// boolValue returns 1 for true and 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
