package health

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// redacted replaces a secret in every text the monitor shows.
const redacted = "REDACTED"

// minSecretLen is the shortest MonitorOptions.Secrets entry accepted: a
// shorter one would blank out unrelated text (every "ab" in every message).
const minSecretLen = 4

var (
	// urlPattern finds URLs with a scheme in free text, up to the first
	// space or quote (url.Error and most wrappers quote the URL), less
	// trailing punctuation such as the colon of "dial URL: error".
	urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>` + "`" + `]*[^\s"'<>:,.;)` + "`" + `]`)

	// dsnPattern finds go-sql-driver/mysql data source names,
	// user:password@tcp(host)/db or user:password@/db. The password part
	// is greedy, as the driver takes the last '@', so a password holding
	// '@' is redacted whole.
	dsnPattern = regexp.MustCompile(`([^\s:@/"'()=]*):[^\s"']*@([A-Za-z0-9]*\(|/)`)

	// paramPattern finds key=value pairs whose key names a secret, as in
	// a query string, a DSN's parameters or a logfmt line.
	paramPattern = regexp.MustCompile(`(?i)((?:password|passwd|pwd|pass|token|secret|api[_-]?key|access[_-]?key|auth|authorization|credentials?)=)[^\s&;"',)]*`)
)

// redactor takes secrets out of texts before the monitor shows them in a
// report, an HTTP response, a log line or a metric.
//
// It removes the configured secrets wherever they occur, and by pattern
// the parts of URLs, DSNs and key=value pairs that usually hold one. The
// patterns are a safety net for errors that quote a URL or a DSN; only
// MonitorOptions.Secrets can catch a secret with no telltale around it.
type redactor struct {
	secrets []string // longest first, so that a secret holding another goes whole
}

// newRedactor returns a redactor for secrets; empty entries are dropped.
func newRedactor(secrets []string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	// Longest first: with "pass" and "password" both secret, "password"
	// must go whole, not leave "word" behind.
	slices.SortStableFunc(r.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return r
}

// redact returns s without its secrets: configured ones first, then URL
// user info, queries and fragments, DSN passwords and secret parameters.
func (r *redactor) redact(s string) string {
	if s == "" {
		return s
	}
	s = r.removeSecrets(s) // first, so that a pattern cannot split a secret
	s = urlPattern.ReplaceAllStringFunc(s, redactURL)
	s = dsnPattern.ReplaceAllString(s, "${1}:"+redacted+"@${2}")
	s = paramPattern.ReplaceAllString(s, "${1}"+redacted)
	return r.removeSecrets(s) // again, in case a marker spelled one
}

// removeSecrets removes every configured secret from s.
func (r *redactor) removeSecrets(s string) string {
	for _, sec := range r.secrets {
		s = removeSecret(s, sec)
	}
	return s
}

// removeSecret replaces every occurrence of sec in s with the marker, and
// removes what is left should the marker and its neighbours spell sec
// again (a secret such as "EDAC"). Removal shortens s, so it ends.
func removeSecret(s, sec string) string {
	if !strings.Contains(s, sec) {
		return s
	}
	s = strings.ReplaceAll(s, sec, redacted)
	for strings.Contains(s, sec) {
		s = strings.ReplaceAll(s, sec, "")
	}
	return s
}

// redactURL returns the URL raw with its user info, query and fragment
// replaced, or only its scheme when it does not parse.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		scheme, _, _ := strings.Cut(raw, "://")
		return scheme + "://" + redacted
	}
	if u.User == nil && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery {
		return raw
	}
	return redactedURL(u)
}

// redactedURL returns u as a string with its user info, query and
// fragment replaced by the marker. It does not modify u.
func redactedURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(redacted)
	}
	if c.RawQuery != "" {
		c.RawQuery = redacted
	}
	if c.Fragment != "" {
		c.Fragment, c.RawFragment = redacted, ""
	}
	return c.String()
}

// urlError wraps err, whose text may quote the URL raw, into an error
// whose text shows the redacted URL instead. errors.Is and errors.As
// still see err.
func urlError(prefix, raw string, u *url.URL, err error) error {
	msg := err.Error()
	if safe := redactedURL(u); safe != raw {
		msg = strings.ReplaceAll(msg, raw, safe)
	}
	// The URL may appear re-encoded (url.Error prints URL as given, but a
	// redirect's error names the new URL): the pattern catches those.
	msg = urlPattern.ReplaceAllStringFunc(msg, redactURL)
	return &redactedError{msg: prefix + msg, err: err}
}

// redactedError is an error whose text had secrets taken out of it. It
// has no Unwrap, so that a reporter that walks the chain (and prints each
// error's text) never reaches the original: errors.Is and errors.As still
// look into it, through its Is and As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
func (e *redactedError) As(target any) bool   { return errors.As(e.err, target) }

// invalidURLError reports a URL that does not parse, without quoting it.
func invalidURLError(prefix string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the part without the URL
	}
	return fmt.Errorf("%sinvalid URL: %w", prefix, err)
}
