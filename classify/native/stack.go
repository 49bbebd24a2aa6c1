//go:build cgo

package native

/*
#include <stdlib.h>
#include "stack.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/proto"
)

// workerStack is each worker's stack: about three times what libpg_query needs for the
// worst text of MaxLen bytes measured (a chain of binary operators or of nested array
// brackets costs it about 180 bytes of stack per byte of SQL; the Normalize walk, not run
// here, twice that). It is reserved, not committed: a page is used only when a parse gets
// that deep, and given back after it.
const workerStack = 512 << 20

// workers is how many texts longer than directLen may be parsed at once; more wait.
const workers = 2

// pool holds the idle workers. It is process-wide like the C parser it serves; workers
// start on first use and live as long as the process.
var pool = struct {
	once    sync.Once
	idle    chan *C.hoop_worker
	started int
	err     error // why fewer than workers started
}{}

func startPool() {
	pool.idle = make(chan *C.hoop_worker, workers)
	for range workers {
		var e C.int
		w := C.hoop_worker_start(C.size_t(workerStack), &e)
		if w == nil {
			pool.err = fmt.Errorf("start a parse worker: %w", syscall.Errno(e))
			return
		}
		pool.idle <- w
		pool.started++
	}
}

// parseOnWorker parses sql on one of the workers' large stacks.
func parseOnWorker(sql string) ([]byte, error) {
	pool.once.Do(startPool)
	if pool.started == 0 {
		return nil, pool.err
	}
	w := <-pool.idle
	defer func() { pool.idle <- w }()
	in := C.CString(sql)
	defer C.free(unsafe.Pointer(in))
	r := C.hoop_worker_parse(w, in)
	defer C.pg_query_free_protobuf_parse_result(r)
	if r.error != nil {
		return nil, &pgparser.Error{
			Message:   C.GoString(r.error.message),
			Cursorpos: int(r.error.cursorpos),
			Lineno:    int(r.error.lineno),
		}
	}
	return C.GoBytes(unsafe.Pointer(r.parse_tree.data), C.int(r.parse_tree.len)), nil
}

// unmarshal decodes libpg_query's protobuf tree. Decoding stops at protobuf's default
// nesting limit (10,000 messages), which also bounds the recursion of every Go walk over
// the tree.
func unmarshal(b []byte) (*pg_query.ParseResult, error) {
	tree := &pg_query.ParseResult{}
	if err := proto.Unmarshal(b, tree); err != nil {
		return nil, err
	}
	return tree, nil
}
