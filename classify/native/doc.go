// Package native parses SQL with the real PostgreSQL parser (libpg_query) compiled in
// through cgo, by github.com/pganalyze/pg_query_go. The gateway uses it; the pure-Go CLI
// uses classify/wasm instead, which gives the same tree without cgo. The package is empty
// when cgo is off, so that a CGO_ENABLED=0 build that imports it fails loudly instead of
// parsing nothing.
//
// libpg_query recurses in C over the trees it builds, with no working depth check, and a
// C stack overflow kills the process: SELECT 1+1+...+1 with 30,000 terms did the gateway.
// So a text reaches the C parser on the calling goroutine's thread only when it is too
// short (2 KiB) to be deep enough to overflow the smallest default thread stack; a longer
// one is parsed on a worker thread (one per CPU at most, started on demand) whose 512 MiB
// stack (reserved, not committed) holds the deepest tree a text of MaxLen (1 MiB) can
// give, three times over; longer texts and chains of more than 20,000 operators are
// refused (classify.ErrTooComplex) before the parser runs. Normalize, whose walk costs
// twice the stack, works the same way from 1 KiB, and refuses texts over 64 KiB.
//
//	c := classify.New(native.Parse, 4096)
package native
