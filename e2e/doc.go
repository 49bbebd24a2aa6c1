// Package e2e holds the end-to-end tests: a real PostgreSQL, the gateway with its embedded
// OIDC provider over HTTP, the hoop CLI, and real clients (psql, pgbench, pgx) through a
// real tunnel. User stories are testscript files in testdata/script; the attacks and the
// failure paths that need finer control are Go tests.
package e2e
