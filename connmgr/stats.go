package connmgr

// Stats is a table's state and counters. Counters count from New. The
// figures are read shard by shard, so under load they need not add up
// exactly (Rows may differ from Pushes-Replaced-Pops by the operations in
// flight).
type Stats struct {
	// Rows is the number of rows held, as Len reports.
	Rows int
	// Capacity is Options.Capacity (0: unbounded).
	Capacity int

	// Pushes counts the successful Push calls, replacements included.
	Pushes int64
	// Replaced counts the Push calls that replaced a row already held for
	// their ID. With IDs from NextID, a non-zero count means a Push came
	// twice for one connection.
	Replaced int64
	// Pops counts the Pop calls that removed a row.
	Pops int64
	// Updates counts the successful SetName and Update calls.
	Updates int64
	// FullRejects counts the Push calls that returned ErrFull, including
	// the connections a Listener closed for want of room.
	FullRejects int64
	// Truncations counts the string values cut to their size=N cap by Push
	// and Update (one per field cut).
	Truncations int64

	// Names holds the number of rows under each name that has any. It is
	// the caller's copy.
	Names map[string]int
}

// counters are a shard's share of the Stats counters, kept under its lock.
type counters struct {
	pushes, replaced, pops, updates, fullRejects, truncations int64
}

// pushed counts a successful Push that replaced a row or not and cut
// strings.
func (c *counters) pushed(replace bool, cut int) {
	c.pushes++
	if replace {
		c.replaced++
	}
	c.truncations += int64(cut)
}

// add adds o to c.
func (c *counters) add(o counters) {
	c.pushes += o.pushes
	c.replaced += o.replaced
	c.pops += o.pops
	c.updates += o.updates
	c.fullRejects += o.fullRejects
	c.truncations += o.truncations
}

// Stats returns the table's state and counters. It locks each shard in
// turn, so it costs O(shards + names): call it for metrics, not per
// request.
func (t *Table[A]) Stats() Stats {
	var sum counters
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		sum.add(s.counts)
		s.mu.RUnlock()
	}
	return Stats{
		Rows:        t.Len(),
		Capacity:    int(t.capacity),
		Pushes:      sum.pushes,
		Replaced:    sum.replaced,
		Pops:        sum.pops,
		Updates:     sum.updates,
		FullRejects: sum.fullRejects,
		Truncations: sum.truncations,
		Names:       t.names.counts(),
	}
}
