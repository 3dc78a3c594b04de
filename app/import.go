package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"authapi/adapters/keyfile"
	"authapi/adapters/postgres"
	"authapi/adapters/sqlite"
	"authapi/ports"
)

// importSQLite is `authapi import-sqlite PATH`: it moves a SQLite
// installation to PostgreSQL. It copies every account, with its password
// hash, pending codes, second factors and passkeys, and every live session
// into the PostgreSQL database of cfg, which must hold no account, and
// replaces that database's signing keys with the ones of
// AUTH_SIGNING_KEY_FILE, so that the tokens already issued stay valid.
// cfg's AUTH_SECRET_KEY_FILE must be the SQLite installation's: the codes
// already emailed are hashed under it, and the authenticator secrets sealed
// under it.
//
// Mail still waiting in the SQLite outbox and the runs of failed logins are
// not copied: stop the old service once its outbox is empty.
func importSQLite(ctx context.Context, cfg Config, source string, log *slog.Logger) error {
	if !cfg.Database.Postgres() {
		return fmt.Errorf("import-sqlite: AUTH_DATABASE_URL=%s is no PostgreSQL database; set it to the postgres:// URL to copy into", cfg.Database)
	}
	if _, err := os.Stat(source); err != nil {
		return fmt.Errorf("import-sqlite: the SQLite database %s: %w", source, err)
	}
	keys, err := keyfile.NewStore(cfg.SigningKeyFile).SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("import-sqlite: the signing keys of AUTH_SIGNING_KEY_FILE=%s: %w", cfg.SigningKeyFile, err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("import-sqlite: AUTH_SIGNING_KEY_FILE=%s holds no signing key: point it at the SQLite installation's key file, or every token it issued becomes invalid", cfg.SigningKeyFile)
	}

	from, err := sqlite.Open(ctx, source, log)
	if err != nil {
		return fmt.Errorf("import-sqlite: %w", err)
	}
	defer from.Close()
	// An installation one version behind is brought up to date first, so
	// that its rows have every column the copy reads.
	if err := from.Migrate(ctx); err != nil {
		return fmt.Errorf("import-sqlite: %w", err)
	}
	accounts, err := sqlite.NewStore(ctx, from)
	if err != nil {
		return fmt.Errorf("import-sqlite: %w", err)
	}

	to, err := openStorage(ctx, cfg, log, rand.Reader)
	if err != nil {
		return err
	}
	defer to.Close()
	target, ok := to.accounts.(*postgres.Store)
	if !ok {
		return errors.New("import-sqlite: the target is not a PostgreSQL store")
	}
	imported, err := target.Import(ctx, accounts, systemClock{}.Now())
	if errors.Is(err, postgres.ErrNotEmpty) {
		return fmt.Errorf("import-sqlite: the database of AUTH_DATABASE_URL=%s already holds accounts; the import copies into an empty database only: %w", cfg.Database, err)
	}
	if err != nil {
		return fmt.Errorf("import-sqlite: nothing was copied: %w", err)
	}
	log.Info("copied the accounts, their passkeys and live sessions", "from", source,
		"users", imported.Users, "passkeys", imported.Passkeys, "sessions", imported.Sessions)

	err = to.keys.UpdateSigningKeys(ctx, func([]ports.SigningKey) ([]ports.SigningKey, error) { return keys, nil })
	if err != nil {
		return fmt.Errorf("import-sqlite: the accounts were copied, but not the signing keys, so the tokens issued before do not verify: %w", err)
	}
	log.Info("copied the signing keys", "from", cfg.SigningKeyFile, "keys", len(keys))
	return nil
}
