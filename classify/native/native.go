//go:build cgo

package native

import (
	"errors"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/hoopgw/hoop/classify"
)

// libpg_query recurses in C over the tree it builds (to hand it over as protobuf, and in
// Normalize's walk) with no working depth check, so a deep enough tree overflows the C
// stack and kills the process: SELECT 1+1+...+1 with 6,000 terms (12 KB) does on a 2 MiB
// thread stack, an ARRAY[[[...]]] of 3,000 levels (6 KB) in Normalize. Go runs cgo calls on
// its threads' stacks, which are the system's default thread size: 8 MiB under glibc's
// default ulimit, 2 MiB when it is unlimited, less if an operator lowers it. So a text goes
// to the C parser on the calling thread only when it is too short to be deep enough to
// matter there; a longer one is parsed on a worker thread with a stack of its own, sized
// for the longest text accepted (MaxLen); a longer one still is refused.
const (
	// directLen is the longest text parsed on the calling thread. At the worst cost
	// measured (about 180 bytes of C stack per byte of SQL) it needs 360 KB of stack, a
	// sixth of the smallest default.
	directLen = 2 << 10
	// directNormalizeLen is the longest text normalized on the calling thread: Normalize's
	// walk costs twice as much stack as Parse.
	directNormalizeLen = 1 << 10
	// maxNormalizeLen is the longest text Normalize accepts: the classifier's cache keeps
	// no longer texts (32 KiB), and a chain of operators is checked first anyway.
	maxNormalizeLen = 64 << 10
	// MaxLen is the longest text Parse accepts: about 180 MB of the workers' 512 MiB
	// stacks at the worst cost measured. The gateway's statement size limit normally
	// refuses longer statements before they reach the classifier.
	MaxLen = 1 << 20
)

// Parse parses sql, which may hold several statements, into PostgreSQL's raw parse tree. A
// syntax error is returned as an error whose text is PostgreSQL's message ("syntax error
// at or near ..."). A text longer than MaxLen, with a chain of more than 20,000 operators,
// too deep for PostgreSQL's grammar or with a tree too deep to decode is an error that
// wraps classify.ErrTooComplex. It is safe for concurrent use.
func Parse(sql string) (*pg_query.ParseResult, error) {
	if len(sql) <= directLen {
		return tooDeep(pg_query.Parse(sql))
	}
	if len(sql) > MaxLen {
		return nil, fmt.Errorf("%w: the text is longer than %d bytes", classify.ErrTooComplex, MaxLen)
	}
	if operatorChain(sql) > maxChain {
		return nil, fmt.Errorf("%w: it is nested too deeply (a chain of more than %d operators)", classify.ErrTooComplex, maxChain)
	}
	b, err := parseOnWorker(sql)
	if err != nil {
		return tooDeep(nil, err)
	}
	tree, err := unmarshal(b)
	if err != nil {
		if strings.Contains(err.Error(), "exceeded maximum recursion depth") {
			return nil, fmt.Errorf("%w: %s", classify.ErrTooComplex, classify.TooDeep)
		}
		return nil, fmt.Errorf("parse: decode the parse tree: %w", err)
	}
	return tree, nil
}

// tooDeep turns the grammar's "memory exhausted" into ErrTooComplex.
func tooDeep(tree *pg_query.ParseResult, err error) (*pg_query.ParseResult, error) {
	if err != nil && strings.HasPrefix(err.Error(), "memory exhausted") {
		return nil, fmt.Errorf("%w: %s", classify.ErrTooComplex, classify.ParserStackFull)
	}
	return tree, err
}

// errNormalizeLong is Normalize's refusal of a text longer than maxNormalizeLen, or with
// too long a chain of operators; the classifier then classifies the text (and refuses it)
// without sharing its result by shape.
var errNormalizeLong = errors.New("normalize: the text is too long or too deep to normalize")

// Normalize replaces the constants of sql with $1, $2, ...: texts that differ only in
// their constants normalize alike. It runs PostgreSQL's own scanner and parser in C, and
// is several times cheaper than Parse, which also builds and copies the whole tree. Texts
// longer than 1 KiB are normalized on a worker thread, as Parse does; longer than 64 KiB,
// they are an error.
func Normalize(sql string) (string, error) {
	if len(sql) <= directNormalizeLen {
		return pg_query.Normalize(sql)
	}
	if len(sql) > maxNormalizeLen || operatorChain(sql) > maxChain {
		return "", errNormalizeLong
	}
	return normalizeOnWorker(sql)
}
