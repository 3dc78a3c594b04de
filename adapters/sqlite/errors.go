package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"authapi/domain"
)

// outcome is what an SQLite result code means to the service.
type outcome int

const (
	outcomeInternal    outcome = iota // a bug or a damaged database
	outcomeEmailTaken                 // the users.email UNIQUE index refused a row
	outcomeUnavailable                // the database cannot serve now; retrying later may work
)

// classify maps an extended SQLite result code to its outcome.
func classify(code int) outcome {
	// Of the writes that come here, only a new account can break a UNIQUE
	// constraint, users.email (the admin keys and passkeys check theirs
	// themselves, in the write transaction); a clash on a primary key
	// reports SQLITE_CONSTRAINT_PRIMARYKEY instead.
	if code == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return outcomeEmailTaken
	}
	// The low byte is the primary code; the rest refines it (for example
	// SQLITE_IOERR_FSYNC or SQLITE_BUSY_SNAPSHOT).
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return outcomeUnavailable
	}
	return outcomeInternal
}

// translate turns an error from the driver into what the store reports:
// domain.ErrUserNotFound, domain.ErrEmailTaken, an error matching
// domain.ErrUnavailable, the context's error, or an internal error carrying
// op as context. An error carrying an SQLite error is rendered as text rather
// than wrapped, so the driver's types do not leak out; the domain errors'
// messages stay as they are, free of SQL details.
func translate(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return domain.ErrUserNotFound
	}
	// A closed pool is the database being gone for now, as during shutdown,
	// not a bug in the request. database/sql does not export the closed-pool
	// error, so its text is all there is to match.
	if errors.Is(err, sql.ErrConnDone) || err.Error() == "sql: database is closed" {
		return fmt.Errorf("sqlite: %s: %v: %w", op, err, domain.ErrUnavailable)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch classify(se.Code()) {
		case outcomeEmailTaken:
			return domain.ErrEmailTaken
		case outcomeUnavailable:
			return fmt.Errorf("sqlite: %s: %v: %w", op, err, domain.ErrUnavailable)
		}
		// An operation interrupted because ctx ended is the caller's doing.
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("sqlite: %s: %w", op, ctxErr)
		}
		return fmt.Errorf("sqlite: %s: %v", op, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
