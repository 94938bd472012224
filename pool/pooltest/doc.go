// Package pooltest turns connkit's leak detection into test assertions: a
// test that leaves a connection borrowed, a goroutine running or a file
// descriptor open fails, and says which and where.
//
// VerifyNone checks pools at the end of one test. VerifyTestMain checks a
// whole test binary: borrows in the pools it is given, goroutines (with
// go.uber.org/goleak) and file descriptors, so one call in TestMain covers
// all three. Give the pools pool.LeakConfig{Stacks: pool.StacksAlways} in
// tests, and each report carries the stack of the Acquire that leaked:
//
//	pooltest: 1 connection(s) still borrowed:
//
//	pool "users" borrow 7 by "store.(*Users).Get", held 12ms
//	    acquired at:
//	        example.com/store.(*Users).Get
//	            /src/store/users.go:41
//	        example.com/store.TestGetMissingUser
//	            /src/store/users_test.go:88
//
// SnapshotFDs and FDSnapshot.Leaked find descriptors opened and not closed
// between two points, in the spirit of lsof -p: each is shown with its
// socket's protocol, addresses and state, or its path. They read /proc, so
// they work on Linux; elsewhere SnapshotFDs returns an error and
// VerifyTestMain skips the descriptor check.
package pooltest
