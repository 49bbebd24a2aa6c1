//go:build cgo

package native

import (
	"strings"
	"testing"
)

// TestOperatorChain: the guard that keeps a long operator chain away from the C parser
// (whose time grows with the square of the depth) counts the chains that nest, and not
// what is flat, quoted or commented, so that it refuses no statement the parser would
// have read.
func TestOperatorChain(t *testing.T) {
	r := strings.Repeat
	tests := []struct {
		name string
		sql  string
		want int
	}{
		{"plus", "SELECT 1" + r("+1", 100), 100},
		{"plus spaced", "SELECT a" + r(" + a", 100), 100},
		{"cast", "SELECT 1" + r("::int", 50), 50},
		{"json", `SELECT '{}'::jsonb` + r("->'a'", 70), 71},
		{"concat", "SELECT 'a'" + r("||'a'", 30), 30},
		{"is null", "SELECT 1" + r(" IS NULL", 40), 40},
		{"union", "SELECT 1" + r(" UNION SELECT 1", 40), 40},
		{"operator()", "SELECT 1" + r(" OPERATOR(pg_catalog.+) 1", 40), 41}, // and the + inside the last
		{"inside parentheses", "SELECT (((1" + r("+1", 60) + ")))", 60},
		{"adds up across brackets", "SELECT 1+1+(1+1+(1+1))", 5},
		{"unary minus", "SELECT " + r("- ", 30) + "1", 30},
		{"values rows", "INSERT INTO t VALUES " + strings.TrimSuffix(r("(1+1, 2*2),", 1000), ","), 1},
		{"and list", "SELECT * FROM t WHERE" + strings.TrimPrefix(r(" AND a = 1", 1000), " AND"), 2}, // the star counts,
		{"or list", "SELECT 1 WHERE a = 1" + r(" OR a = 1", 1000), 1},
		{"case", "SELECT CASE" + r(" WHEN a = 1 THEN b + 1", 1000) + " ELSE 0 END", 1},
		{"statements", r("SELECT 1+1;", 1000), 1},
		{"in list", "SELECT 1 IN (1" + r(",-1", 1000) + ")", 1},
		{"string", "SELECT '" + r("+", 1000) + "'", 0},
		{"doubled quote", "SELECT 'it''s " + r("+", 1000) + "'", 0},
		{"escape string", `SELECT E'\'` + r("+", 1000) + "'", 0},
		{"quoted name", `SELECT "` + r("+", 1000) + `"`, 0},
		{"dollar quote", "SELECT $f$ ' " + r("+", 1000) + " $f$", 0},
		{"parameter", "SELECT $1 + $2", 1},
		{"line comment", "SELECT 1 -- " + r("+", 1000) + "\n", 0},
		{"block comment", "SELECT 1 /* /* */ " + r("+", 1000) + " */", 0},
		{"exponent", "SELECT 1e-5 + 2.5E+3", 1},
	}
	for _, tc := range tests {
		if got := operatorChain(tc.sql); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}
