package reset

// RedisTracked returns how many connections r tracks: those dialed and not
// yet closed.
func RedisTracked(r *Redis) int {
	n := 0
	r.conns.Range(func(any, any) bool { n++; return true })
	return n
}
