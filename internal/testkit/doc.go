// Package testkit holds the test infrastructure that the tests of every
// package in the module share: a clock moved by hand, a locked buffer for
// logs, an SMTP server that captures what it receives, a launcher for the
// built authapi binary, PostgreSQL schemas of each test's own, and an
// authenticator app (TOTP) written from the RFCs.
//
// It imports no package of the module, so that any package's own tests,
// internal or external, can use it without an import cycle.
package testkit
