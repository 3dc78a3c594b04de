// Package postgresdb holds the PostgreSQL schema and queries: goose
// migrations, the SQL that sqlc compiles, and (in sqlcgen) the code it
// generates. Only adapters/postgres uses it.
package postgresdb

import "embed"

// Migrations holds the goose SQL migrations, under the directory
// "migrations", embedded so that the binary migrates its database without
// any files beside it.
//
//go:embed migrations/*.sql
var Migrations embed.FS
