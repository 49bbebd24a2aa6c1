//go:build cgo

package native

import pg_query "github.com/pganalyze/pg_query_go/v6"

// Parse parses sql, which may hold several statements, into PostgreSQL's raw parse tree. A
// syntax error is returned as an error whose text is PostgreSQL's message ("syntax error
// at or near ..."). It is safe for concurrent use.
func Parse(sql string) (*pg_query.ParseResult, error) {
	return pg_query.Parse(sql)
}

// Normalize replaces the constants of sql with $1, $2, ...: texts that differ only in
// their constants normalize alike. It runs PostgreSQL's own scanner and parser in C, and
// is several times cheaper than Parse, which also builds and copies the whole tree.
func Normalize(sql string) (string, error) {
	return pg_query.Normalize(sql)
}
