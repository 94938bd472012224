package reset

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL commands written by a reset.
const (
	comInitDB          = 0x02
	comQuery           = 0x03
	comResetConnection = 0x1f
)

// defaultResetTimeout bounds a reset whose context has no deadline.
const defaultResetTimeout = 5 * time.Second

// resetPlan is how the connections of one config are reset: the command
// packets, built once, that take a session back to what the driver made of
// it at connect.
type resetPlan struct {
	wire        bool // the protocol can be driven on the raw socket
	db          string
	interpolate bool     // the driver interpolates parameters: it must see a status after a reset
	alwaysDirty bool     // autocommit is off: every statement leaves a transaction open
	plain       pipeline // COM_RESET_CONNECTION, then the SET
	withDB      pipeline // the same with COM_INIT_DB between: after a USE
}

// newResetPlan reads cfg as go-sql-driver/mysql does at connect: the
// handshake collation, then SET NAMES for a charset parameter, then a SET
// of every other parameter.
func newResetPlan(cfg *mysql.Config) *resetPlan {
	p := &resetPlan{db: cfg.DBName, interpolate: cfg.InterpolateParams}
	params := dsnParams(cfg)
	for k, v := range cfg.Params {
		if strings.EqualFold(k, "autocommit") {
			v = strings.ToUpper(strings.Trim(v, "'\" "))
			p.alwaysDirty = v == "0" || v == "OFF" || v == "FALSE"
		}
	}
	// Not over TLS (the reset would be written under the driver's TLS
	// layer, which connkit cannot reach) nor compression (the driver's
	// compressed framing is not reproduced).
	tls := cfg.TLS != nil || (cfg.TLSConfig != "" && cfg.TLSConfig != "false")
	p.wire = !tls && params.Get("compress") != "true"
	// COM_RESET_CONNECTION keeps the current database (MariaDB 10.11,
	// tested): COM_INIT_DB is sent only after a USE.
	set := setSQL(cfg, params)
	p.plain.add(comResetConnection, "")
	p.plain.add(comQuery, set)
	p.withDB.add(comResetConnection, "")
	if p.db != "" {
		p.withDB.add(comInitDB, p.db)
	}
	p.withDB.add(comQuery, set)
	return p
}

// dsnParams returns the parameters of cfg's DSN, including those mysql.Config
// keeps unexported (charset, compress).
func dsnParams(cfg *mysql.Config) url.Values {
	dsn := cfg.FormatDSN()
	_, query, _ := strings.Cut(dsn[strings.LastIndexByte(dsn, '/')+1:], "?")
	v, _ := url.ParseQuery(query)
	return v
}

// setSQL is the one SET that puts back the connection's character set and
// collation and cfg's system variables.
func setSQL(cfg *mysql.Config, params url.Values) string {
	names := "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci" // the driver's handshake default
	if cs := params.Get("charset"); cs != "" {
		cs, _, _ = strings.Cut(cs, ",") // the driver tries each; the first is the usual one
		names = "SET NAMES " + cs
		if cfg.Collation != "" {
			names += " COLLATE " + cfg.Collation
		}
	} else if cfg.Collation != "" {
		cs, _, _ := strings.Cut(cfg.Collation, "_")
		names = "SET NAMES " + cs + " COLLATE " + cfg.Collation
	}
	keys := make([]string, 0, len(cfg.Params))
	for k := range cfg.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(names)
	for _, k := range keys {
		fmt.Fprintf(&b, ", %s = %s", k, cfg.Params[k])
	}
	return b.String()
}

// pipeline is commands written at once, whose replies are read after.
type pipeline struct {
	packets []byte
	replies int
}

// add appends one command packet (sequence 0) to the pipeline.
func (p *pipeline) add(cmd byte, arg string) {
	n := 1 + len(arg)
	p.packets = append(p.packets, byte(n), byte(n>>8), byte(n>>16), 0, cmd)
	p.packets = append(p.packets, arg...)
	p.replies++
}

// run writes the reset on c and reads one OK per command: one round trip.
// useDB says a USE ran since the last reset. The connection is idle
// (database/sql is resetting it), so nothing else reads or writes c
// meanwhile. It ends when ctx does.
func (p *resetPlan) run(ctx context.Context, c net.Conn, useDB bool) (err error) {
	pl := &p.plain
	if useDB {
		pl = &p.withDB
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultResetTimeout)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return err
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.SetDeadline(time.Now())
		close(interrupted)
	})
	defer func() {
		if !stop() {
			// ctx ended: its deadline may be set after the one below, and
			// would fail the next borrower's first statement, so the
			// connection is not given on as clean.
			<-interrupted
			if err == nil {
				err = fmt.Errorf("reset: interrupted as it finished: %w", context.Cause(ctx))
			}
		}
		if derr := c.SetDeadline(time.Time{}); err == nil {
			err = derr
		}
	}()
	if _, err := c.Write(pl.packets); err != nil {
		return fmt.Errorf("reset: writing COM_RESET_CONNECTION: %w", err)
	}
	var hdr [4]byte
	for i := range pl.replies {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return fmt.Errorf("reset: reading reply %d of %d: %w", i+1, pl.replies, err)
		}
		body := make([]byte, int(hdr[0])|int(hdr[1])<<8|int(hdr[2])<<16)
		if _, err := io.ReadFull(c, body); err != nil {
			return fmt.Errorf("reset: reading reply %d of %d: %w", i+1, pl.replies, err)
		}
		if err := okPacket(body); err != nil {
			return fmt.Errorf("reset: command %d of %d: %w", i+1, pl.replies, err)
		}
	}
	return nil
}

// okPacket returns nil for an OK packet and the server's error for an ERR.
func okPacket(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("empty reply")
	case b[0] == 0x00:
		return nil
	case b[0] == 0xff && len(b) >= 3:
		code := binary.LittleEndian.Uint16(b[1:3])
		msg := b[3:]
		if len(msg) >= 6 && msg[0] == '#' {
			msg = msg[6:]
		}
		return fmt.Errorf("server error %d: %s", code, msg)
	}
	return fmt.Errorf("unexpected reply 0x%02x", b[0])
}
