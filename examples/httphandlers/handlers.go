package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/connkit/connkit/pool"
)

// requestTimeout bounds each request's work: the wait for a connection (at
// most acquireTimeout) and the commands.
const requestTimeout = 3 * time.Second

var (
	validPage = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	validZone = regexp.MustCompile(`^[+-]\d\d:\d\d$`) // an offset: named zones need the server's time zone tables
)

// handlers serve the example's routes. Each borrows a connection with
// pool.With, labelled with its route, for the time of its commands only.
type handlers struct {
	redis   *pool.Pool[*redis.Conn]
	mysql   *pool.Pool[*sql.Conn]
	secrets []string // never shown: replaced in error texts
	logger  *slog.Logger
}

// visits counts a visit of the page with INCR on a dedicated Redis connection.
func (h *handlers) visits(w http.ResponseWriter, r *http.Request) {
	page := r.PathValue("page")
	if !validPage.MatchString(page) {
		h.fail(w, r, http.StatusBadRequest, errors.New("page: 1 to 64 letters, digits, - or _"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var n int64
	err := h.redis.With(pool.WithLabel(ctx, "GET /visits/{page}"), func(ctx context.Context, c *redis.Conn) error {
		var err error
		if n, err = c.Incr(ctx, visitsKey+page).Result(); err != nil {
			return fmt.Errorf("redis: INCR %s: %w", visitsKey+page, err)
		}
		return nil
	})
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Page   string `json:"page"`
		Visits int64  `json:"visits"`
	}{page, n})
}

// user is a row of the users table.
type user struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// user reads a user on a MySQL connection.
func (h *handlers) user(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		h.fail(w, r, http.StatusBadRequest, errors.New("id: a positive integer"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var u user
	err = h.mysql.With(pool.WithLabel(ctx, "GET /users/{id}"), func(ctx context.Context, c *sql.Conn) error {
		err := c.QueryRowContext(ctx, "SELECT id, name, email FROM "+usersTable+" WHERE id = ?", id).
			Scan(&u.ID, &u.Name, &u.Email)
		if err != nil {
			return fmt.Errorf("mysql: select user %d: %w", id, err)
		}
		return nil
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		h.fail(w, r, http.StatusNotFound, errors.New("no such user"))
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, err)
	default:
		writeJSON(w, http.StatusOK, u)
	}
}

// session is what /tz shows of the MySQL session it borrowed.
type session struct {
	ConnectionID int64  `json:"connection_id"`
	TimeZone     string `json:"time_zone"`
	Now          string `json:"now"`
	// PoolResets counts the dirty connections the "mysql" pool has reset.
	PoolResets int64 `json:"pool_resets"`
}

// timeZone shows the time zone of a pooled MySQL session, after setting it
// to ?zone= when given. SET time_zone makes the connection dirty (reset's
// connector sees the statement go out), so the pool resets the session
// when it is given back: the next request that borrows the same connection
// (same connection_id) sees the DSN's time zone again, not this one.
func (h *handlers) timeZone(w http.ResponseWriter, r *http.Request) {
	zone := r.URL.Query().Get("zone")
	if strings.HasPrefix(zone, " ") { // ?zone=+05:00 as typed: a + in a query means a space
		zone = "+" + zone[1:]
	}
	if zone != "" && !validZone.MatchString(zone) {
		h.fail(w, r, http.StatusBadRequest, errors.New("zone: an offset such as +05:00 or -03:30"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var s session
	err := h.mysql.With(pool.WithLabel(ctx, "GET /tz"), func(ctx context.Context, c *sql.Conn) error {
		if zone != "" {
			if _, err := c.ExecContext(ctx, "SET time_zone = ?", zone); err != nil {
				return fmt.Errorf("mysql: set time_zone: %w", err)
			}
		}
		err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID(), @@session.time_zone, CAST(NOW() AS CHAR)").
			Scan(&s.ConnectionID, &s.TimeZone, &s.Now)
		if err != nil {
			return fmt.Errorf("mysql: select time zone: %w", err)
		}
		return nil
	})
	var myErr *mysql.MySQLError
	switch {
	case errors.As(err, &myErr) && myErr.Number == 1298: // ER_UNKNOWN_TIME_ZONE: out of range
		h.fail(w, r, http.StatusBadRequest, err)
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, err)
	default:
		s.PoolResets = h.mysql.Stats().Resets
		writeJSON(w, http.StatusOK, s)
	}
}

// fail answers code with err's text, its secrets replaced, and logs the
// failures that are not the client's.
func (h *handlers) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	msg := err.Error()
	for _, s := range h.secrets {
		msg = strings.ReplaceAll(msg, s, "REDACTED")
	}
	if code >= 500 {
		h.logger.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", msg)
	}
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

// writeJSON answers code with v as JSON on one line.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}
