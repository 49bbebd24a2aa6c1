//go:build cgo

package native

/*
#include <stdlib.h>
#include "stack.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/proto"
)

// workerStack is each worker's stack: about three times what libpg_query needs for the
// worst text of MaxLen bytes measured (a chain of binary operators or of nested array
// brackets costs it about 180 bytes of stack per byte of SQL; Normalize's walk twice that,
// and it gets texts of at most maxNormalizeLen). It is reserved, not committed: a page is
// used only when a parse gets that deep, and given back after it.
const workerStack = 512 << 20

// pool holds the workers: started on demand, up to one per CPU Go uses (at least two),
// and kept for the life of the process, like the C parser's own per-thread state.
var pool struct {
	mu      sync.Mutex
	idle    []*C.hoop_worker
	started int
	limit   int
	free    *sync.Cond // signalled when a worker goes idle
}

// getWorker returns an idle worker, starting one when all are busy and the limit allows,
// else waiting for one.
func getWorker() (*C.hoop_worker, error) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.free == nil {
		pool.free = sync.NewCond(&pool.mu)
		pool.limit = max(2, runtime.GOMAXPROCS(0))
	}
	for {
		if n := len(pool.idle); n > 0 {
			w := pool.idle[n-1]
			pool.idle = pool.idle[:n-1]
			return w, nil
		}
		if pool.started < pool.limit {
			var e C.int
			w := C.hoop_worker_start(C.size_t(workerStack), &e)
			if w == nil {
				if pool.started == 0 {
					return nil, fmt.Errorf("parse: start a parse worker: %w", syscall.Errno(e))
				}
				pool.limit = pool.started // the system will not give more: use those there are
				continue
			}
			pool.started++
			return w, nil
		}
		pool.free.Wait()
	}
}

func putWorker(w *C.hoop_worker) {
	pool.mu.Lock()
	pool.idle = append(pool.idle, w)
	pool.mu.Unlock()
	pool.free.Signal()
}

// parseOnWorker parses sql on a worker's large stack.
func parseOnWorker(sql string) ([]byte, error) {
	w, err := getWorker()
	if err != nil {
		return nil, err
	}
	defer putWorker(w)
	in := C.CString(sql)
	defer C.free(unsafe.Pointer(in))
	r := C.hoop_worker_parse(w, in)
	defer C.pg_query_free_protobuf_parse_result(r)
	if r.error != nil {
		return nil, newError(r.error)
	}
	return C.GoBytes(unsafe.Pointer(r.parse_tree.data), C.int(r.parse_tree.len)), nil
}

// normalizeOnWorker normalizes sql on a worker's large stack.
func normalizeOnWorker(sql string) (string, error) {
	w, err := getWorker()
	if err != nil {
		return "", err
	}
	defer putWorker(w)
	in := C.CString(sql)
	defer C.free(unsafe.Pointer(in))
	r := C.hoop_worker_normalize(w, in)
	defer C.pg_query_free_normalize_result(r)
	if r.error != nil {
		return "", newError(r.error)
	}
	return C.GoString(r.normalized_query), nil
}

// newError is libpg_query's error as pg_query_go gives it.
func newError(e *C.hoop_parse_error) error {
	return &pgparser.Error{Message: C.GoString(e.message), Cursorpos: int(e.cursorpos), Lineno: int(e.lineno)}
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
