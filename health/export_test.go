package health

// Redact exposes the redaction of a Monitor with the given secrets to the
// tests.
func Redact(secrets []string, s string) string { return newRedactor(secrets).redact(s) }
