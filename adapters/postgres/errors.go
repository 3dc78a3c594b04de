package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"authapi/domain"
)

// The UNIQUE constraints whose refusals are domain errors, as PostgreSQL
// names them.
const (
	emailConstraint      = "users_email_key"
	credentialConstraint = "passkeys_credential_id_key"
)

// translate turns an error from pgx into what the store reports:
// domain.ErrUserNotFound, domain.ErrEmailTaken, domain.ErrPasskeyExists (a
// credential that another transaction registered first), an error matching
// domain.ErrUnavailable, the context's error, or an internal error carrying
// op as context. A server error is rendered as text rather than wrapped, so
// that pgx's types do not leak out; the domain errors' messages stay free of
// SQL.
func translate(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.ErrUserNotFound
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("postgres: %s: %w", op, ctxErr)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "23505" {
			switch pgErr.ConstraintName {
			case emailConstraint:
				return domain.ErrEmailTaken
			case credentialConstraint:
				return domain.ErrPasskeyExists
			}
		}
		if unavailableClass(pgErr.Code) {
			return fmt.Errorf("postgres: %s: %s (SQLSTATE %s): %w", op, pgErr.Message, pgErr.Code, domain.ErrUnavailable)
		}
		return fmt.Errorf("postgres: %s: %s (SQLSTATE %s)", op, pgErr.Message, pgErr.Code)
	}
	if isConnectionLoss(err) {
		return fmt.Errorf("postgres: %s: %v: %w", op, err, domain.ErrUnavailable)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailableClass reports whether an SQLSTATE says the server cannot serve
// now, as opposed to a bug in the request: too many connections, a server
// shutting down or in recovery, a full disk, a read-only transaction on a
// standby, a lock or statement timeout, a serialization failure.
func unavailableClass(code string) bool {
	switch code {
	case "25006", // read_only_sql_transaction: a standby, or a primary turned read-only
		"40001", "40P01", // serialization_failure, deadlock_detected
		"55P03", // lock_not_available
		"57014": // query_canceled, as by statement_timeout
		return true
	}
	switch code[:2] {
	case "08", // connection exception
		"53", // insufficient resources: disk full, out of memory, too many connections
		"57", // operator intervention: shutdown, crash recovery
		"58": // system error: I/O
		return true
	}
	return false
}

// isConnectionLoss reports whether err is the network or the pool failing
// rather than the server refusing a statement.
func isConnectionLoss(err error) bool {
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connectErr) ||
		errors.Is(err, puddle.ErrClosedPool) || pgconn.SafeToRetry(err)
}

// connectCause keeps the reason a first connection failed, without pgx's
// restatement of the connection parameters.
func connectCause(err error) error {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) && connectErr.Unwrap() != nil {
		return connectErr.Unwrap()
	}
	return err
}
