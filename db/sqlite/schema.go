// Package sqlitedb holds the SQLite schema and queries: goose migrations, the
// SQL that sqlc compiles, and (in sqlcgen) the code it generates. Only
// adapters/sqlite uses it.
package sqlitedb

import "embed"

// Migrations holds the goose SQL migrations, under the directory
// "migrations". They are embedded so the binary can migrate its database
// without any files beside it.
//
//go:embed migrations/*.sql
var Migrations embed.FS
