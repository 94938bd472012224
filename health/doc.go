// Package health checks a service's dependencies in the background and
// reports them: as a JSON endpoint for load balancers and orchestrators,
// as Prometheus metrics, and as a typed Report for code.
//
// A Checker checks one dependency; Redis, SQL, TCP and WebSocket build the
// common ones, and CheckerFunc adapts any function. A Monitor runs each
// check on its own ticker (MonitorOptions.Period, default 10s), each run
// bounded by MonitorOptions.Timeout (default 2s), and keeps per check its
// status, latency, last error, consecutive failures and passes, and the
// time of its last change. The status moves with hysteresis, as a load
// balancer's health checks do: an up check turns down only after Fall
// consecutive failures (default 3) and a down check turns up only after
// Rise consecutive passes (default 2), so one lost packet or one slow
// query never flaps a service out of rotation and back. Handler and
// Collector read the recorded results and never run a check, so a probe
// storm never reaches the dependencies. Pools added with AddPool (any
// pool.Inspector) are reported beside the checks, with their connections,
// waiters, acquire waits, dials and destroys.
//
//	m, err := health.NewMonitor(health.MonitorOptions{Secrets: []string{redisPassword}})
//	...
//	defer m.Close()
//	m.Add("redis", health.Redis(rdb))          // required: down makes /healthz 503
//	m.AddOptional("search", health.TCP(addr))  // shown, never 503
//	m.AddPool(sessions)                        // a *pool.Pool
//	http.Handle("/healthz", m.Handler())
//	registry.MustRegister(m.Collector())
//
// PingRedis and PingSQL have the shape of pool.Config.Ping, for pools of
// dedicated *redis.Conn and *sql.Conn.
//
// # Status
//
// A check is "unknown" from Add until its first run, which decides its
// status at once (there is nothing to protect from a blip yet); from then
// on it is "up" or "down". The Monitor is up when every required check is
// up, so it is down, and its Handler answers 503, until each required
// check has passed once: a readiness probe keeps traffic away from an
// instance that has not reached its dependencies yet. Call Check at
// startup to run every check at once instead of waiting for the tickers.
// A check added with AddOptional shows in reports, logs and metrics but
// never makes the Monitor down. Pools never do: add a check for that.
//
// With the defaults a dead dependency is reported down 20 to 30 s after
// it died (Fall runs, the first of which may come a Period after the
// death) and up again 10 to 20 s after it returns.
//
// # Timeouts and stuck checkers
//
// Each run gets a context that ends after Timeout, and a checker that has
// not returned by then has failed, whether or not it honours its context.
// It runs in a goroutine of its own, so a stuck checker never holds the
// Monitor, the other checks, Report or Handler. A check never overlaps
// itself: while a stuck call is out, the next runs of that check wait for
// it (up to Timeout) and fail without calling the checker again, so stuck
// calls never pile up. Close cancels every run and waits for
// every goroutine the Monitor started; only the calls of a checker that
// ignores its context are waited for at most Timeout and then left
// behind, with a log line naming the check.
//
// # Secrets
//
// No text the package shows (a report, an HTTP response, a log line, a
// metric, an error from Check) holds a password, token or DSN. Reports
// name checks and pools, never their targets. Error texts, from checkers
// and from pools' last dial errors, pass through redaction, which
// replaces with "REDACTED":
//
//   - every MonitorOptions.Secrets entry, wherever it occurs;
//   - the user info, query and fragment of URLs (scheme://...);
//   - the password of go-sql-driver/mysql DSNs (user:password@tcp(...));
//   - the value of key=value pairs whose key names a secret (password,
//     pwd, token, secret, api_key, auth, ...).
//
// The patterns catch the usual leaks, such as an error that quotes a URL
// with its token; only Secrets catches a bare secret in free text, so list
// the passwords and tokens the service holds. The WebSocket checker
// redacts its URL's user info and query from its own errors too. Metrics
// carry no error text at all.
//
// # Logging
//
// MonitorOptions.Logger gets one line per status change of a check (Warn
// when it goes down, with its redacted error and failure count; Info when
// it comes up) and one Debug line per failed run.
package health
