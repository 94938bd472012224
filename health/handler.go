package health

import (
	"encoding/json"
	"net/http"
)

// summary is the plain (not verbose) JSON form of a Report: statuses only.
type summary struct {
	Status Status                  `json:"status"`
	Checks map[string]checkSummary `json:"checks"`
}

// checkSummary is the plain JSON form of a CheckReport.
type checkSummary struct {
	Status   Status `json:"status"`
	Required bool   `json:"required"`
}

// summarize returns the plain form of r.
func summarize(r Report) summary {
	s := summary{Status: r.Status, Checks: make(map[string]checkSummary, len(r.Checks))}
	for name, c := range r.Checks {
		s.Checks[name] = checkSummary{Status: c.Status, Required: c.Required}
	}
	return s
}

// Handler returns an http.Handler that serves the Monitor's Report as
// JSON, for load balancers, orchestrators' probes and people:
//
//   - status 200 when the Monitor is up (every required check is up), 503
//     when it is down, with Cache-Control: no-store;
//   - the body names each check with its status and whether it is
//     required: {"status":"up","checks":{"redis":{"status":"up",
//     "required":true}}};
//   - with the query parameter verbose (?verbose, ?verbose=1), the whole
//     Report: counters, times, latencies, last errors and the pools'
//     state (see Report's JSON tags). ?verbose=0 and ?verbose=false mean
//     plain.
//
// Neither form holds a secret: error texts are redacted, and no check's
// target (address, URL, DSN) is shown. Verbose error texts do name hosts
// and ports; serve the handler where that is acceptable, or only plain.
//
// The handler answers GET and HEAD, and 405 to other methods. It reads
// the last recorded results and never runs a check, so probes cost
// nothing to the dependencies however often they come.
func (m *Monitor) Handler() http.Handler {
	return http.HandlerFunc(m.serveHTTP)
}

func (m *Monitor) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "health: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r := m.Report()
	var body any = summarize(r)
	if verbose(req) {
		body = r
	}
	code := http.StatusOK
	if r.Status != StatusUp {
		code = http.StatusServiceUnavailable
	}
	b, err := json.MarshalIndent(body, "", "  ")
	if err != nil { // the report's types always encode
		http.Error(w, "health: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if req.Method != http.MethodHead {
		_, _ = w.Write(append(b, '\n')) // a client that hung up has nothing to be told
	}
}

// verbose reports whether req asks for the verbose report.
func verbose(req *http.Request) bool {
	q := req.URL.Query()
	if !q.Has("verbose") {
		return false
	}
	switch q.Get("verbose") {
	case "0", "false", "no":
		return false
	}
	return true
}
