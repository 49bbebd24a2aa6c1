// Package wasm parses SQL with the real PostgreSQL parser (libpg_query) compiled to
// WebAssembly and run by wazero, through github.com/wasilibs/go-pgquery, so that a pure-Go
// binary (CGO_ENABLED=0) gets the same tree as classify/native without linking cgo. The
// first call compiles the module (about a second); later calls reuse pooled instances.
//
//	c := classify.New(wasm.Parse, 512)
package wasm

import (
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	pgquery "github.com/wasilibs/go-pgquery"
)

// Parse parses sql, which may hold several statements, into PostgreSQL's raw parse tree. A
// syntax error is returned as an error whose text is PostgreSQL's message ("syntax error
// at or near ..."). A failure inside the WebAssembly runtime, which go-pgquery reports by
// panicking, is returned as an error too. It is safe for concurrent use.
func Parse(sql string) (tree *pg_query.ParseResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			tree, err = nil, fmt.Errorf("parse: webassembly parser failed: %v", r)
		}
	}()
	return pgquery.Parse(sql)
}
