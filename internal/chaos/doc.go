// Package chaos holds connkit's fault-injection tests: real Redis and
// MariaDB servers (internal/testenv) and the fault proxy
// (internal/faultproxy) kill, stall and slow the network under pools and
// clients in load, and the tests check what every caller saw.
//
// Every scenario is bounded in time and stops on its own; RELIABILITY.md at
// the repository root describes each one, what it asserts and the figures
// of the last run. Run them with:
//
//	go test -race -v ./internal/chaos
//
// The package has no code of its own outside its tests.
package chaos
