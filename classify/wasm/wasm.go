// Package wasm parses SQL with the real PostgreSQL parser (libpg_query) compiled to
// WebAssembly and run by wazero, through github.com/wasilibs/go-pgquery, so that a pure-Go
// binary (CGO_ENABLED=0) gets the same tree as classify/native without linking cgo. The
// first call compiles the module (about a second); later calls reuse pooled instances.
//
//	c := classify.New(wasm.Parse, 512)
package wasm

import (
	"fmt"
	"strings"
	"sync/atomic"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	pgquery "github.com/wasilibs/go-pgquery"

	"github.com/hoopgw/hoop/classify"
)

// broken holds why the WebAssembly parser failed, once it has. A deep enough text
// overflows the module's stack (SELECT 1+1+...+1 with 5,000 terms does); the runtime
// stops it with a panic, but go-pgquery then returns the stopped instance to its pool,
// with its C state left mid-parse: it was seen to fail on "SELECT a FROM t" afterwards,
// and nothing proves it would only ever fail. So after one failure every later call in
// the process is an error (fail closed) rather than an answer from a broken parser. The
// pool is process-wide, and so is this.
var broken atomic.Pointer[string]

// Parse parses sql, which may hold several statements, into PostgreSQL's raw parse tree. A
// syntax error is returned as an error whose text is PostgreSQL's message ("syntax error
// at or near ..."). A text nested too deeply for the module's stack or for the tree's
// decoder is an error that wraps classify.ErrTooComplex; after the first, see broken. It
// is safe for concurrent use.
func Parse(sql string) (tree *pg_query.ParseResult, err error) {
	if why := broken.Load(); why != nil {
		return nil, fmt.Errorf("parse: the webassembly parser failed earlier in this process (%s); start the command again", *why)
	}
	defer func() {
		if r := recover(); r != nil {
			why := fmt.Sprint(r)
			broken.CompareAndSwap(nil, &why)
			tree = nil
			if strings.Contains(why, "stack overflow") {
				err = fmt.Errorf("%w: it is nested too deeply for the webassembly parser's stack", classify.ErrTooComplex)
				return
			}
			err = fmt.Errorf("parse: webassembly parser failed: %v", r)
		}
	}()
	tree, err = pgquery.Parse(sql)
	switch {
	case err == nil:
		return tree, nil
	case strings.Contains(err.Error(), "exceeded maximum recursion depth"):
		return nil, fmt.Errorf("%w: %s", classify.ErrTooComplex, classify.TooDeep)
	case strings.HasPrefix(err.Error(), "memory exhausted"):
		return nil, fmt.Errorf("%w: %s", classify.ErrTooComplex, classify.ParserStackFull)
	}
	return nil, err
}
