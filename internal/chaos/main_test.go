package chaos

import (
	"context"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The drivers log every failed dial and read of an outage, by design
	// here: keep the test output to what the tests say.
	redis.SetLogger(quiet{})
	mysql.SetLogger(quiet{})
	goleak.VerifyTestMain(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
func (quiet) Print(...any)                           {}
