// Package native parses SQL with the real PostgreSQL parser (libpg_query) compiled in
// through cgo, by github.com/pganalyze/pg_query_go. The gateway uses it; the pure-Go CLI
// uses classify/wasm instead, which gives the same tree without cgo. The package is empty
// when cgo is off, so that a CGO_ENABLED=0 build that imports it fails loudly instead of
// parsing nothing.
//
//	c := classify.New(native.Parse, 4096)
package native
