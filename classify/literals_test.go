package classify_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/classify"
)

// maskedCols is the rule set of the literal tests: customers.ssn, customers.phone and any
// column named card_n.
func maskedCols(table, column string) bool {
	switch column {
	case "card_n":
		return true
	case "ssn", "phone":
		return table == "customers" || table == ""
	}
	return false
}

// spanTexts returns the texts of spans, joined by "|".
func spanTexts(sql string, spans []classify.Span) string {
	parts := make([]string, len(spans))
	for k, s := range spans {
		parts[k] = sql[s.Start:s.End]
	}
	return strings.Join(parts, "|")
}

// TestSensitiveLiterals checks that every literal compared with or given to a masked
// column is found, whole, and that others are left alone.
func TestSensitiveLiterals(t *testing.T) {
	for _, c := range []struct {
		name, sql, want string
		params          []int
	}{
		{"equal", `SELECT id FROM customers WHERE ssn = '123-45-6789'`, `'123-45-6789'`, nil},
		{"other column", `SELECT id FROM customers WHERE name = 'bob'`, ``, nil},
		{"and", `SELECT id FROM customers WHERE ssn = '1' AND name = 'bob' AND id = 5`, `'1'`, nil},
		{"qualified alias", `SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.ssn = '1' AND o.note = 'n'`, `'1'`, nil},
		{"unqualified two relations", `SELECT 1 FROM customers, orders WHERE ssn = '1'`, `'1'`, nil},
		{"other table's ssn", `SELECT 1 FROM patients WHERE ssn = '1'`, ``, nil},
		{"function", `SELECT id FROM customers WHERE lower(phone) LIKE '%555%'`, `'%555%'`, nil},
		{"in", `SELECT id FROM customers WHERE ssn IN ('1', '2')`, `'1'|'2'`, nil},
		{"between", `SELECT id FROM customers WHERE ssn BETWEEN '1' AND '2'`, `'1'|'2'`, nil},
		{"any array", `SELECT id FROM customers WHERE ssn = ANY('{1,2}')`, `'{1,2}'`, nil},
		{"cast", `SELECT id FROM customers WHERE ssn = '1'::text`, `'1'`, nil},
		{"typed literal", `SELECT id FROM customers WHERE ssn = text '1'`, `'1'`, nil},
		{"escape string", `SELECT id FROM customers WHERE ssn = E'1\'2\\'`, `E'1\'2\\'`, nil},
		{"dollar", `SELECT id FROM customers WHERE ssn = $x$12'3$x$`, `$x$12'3$x$`, nil},
		{"dollar empty tag", `SELECT id FROM customers WHERE ssn = $$123$$`, `$$123$$`, nil},
		{"doubled quote", `SELECT id FROM customers WHERE ssn = 'a''b'`, `'a''b'`, nil},
		{"unicode", `SELECT id FROM customers WHERE ssn = U&'\0031'`, `U&'\0031'`, nil},
		{"continued", "SELECT id FROM customers WHERE ssn = '12'\n'34'", "'12'\n'34'", nil},
		{"number", `SELECT id FROM cards WHERE card_n = 4111111111111111`, `4111111111111111`, nil},
		{"negative", `SELECT id FROM cards WHERE card_n = -42.5e+3`, `-42.5e+3`, nil},
		{"param", `SELECT id FROM customers WHERE ssn = $1 AND id = $2`, ``, []int{1}},
		{"reversed", `SELECT id FROM customers WHERE '1' = ssn`, `'1'`, nil},
		{"strpos", `SELECT id FROM customers WHERE strpos(ssn, '45') > 0`, `'45'|0`, nil},
		{"in subquery", `SELECT id FROM customers WHERE '9' IN (SELECT ssn FROM customers)`, `'9'`, nil},
		{"case", `SELECT CASE ssn WHEN '1' THEN 'a' END FROM customers`, `'1'|'a'`, nil},
		{"row compare", `SELECT id FROM customers WHERE (ssn, name) = ('1', 'b')`, `'1'|'b'`, nil},
		{"is distinct", `SELECT id FROM customers WHERE ssn IS DISTINCT FROM '1'`, `'1'`, nil},
		{"insert", `INSERT INTO customers (name, ssn) VALUES ('bob', '123')`, `'123'`, nil},
		{"insert multi", `INSERT INTO customers (name, ssn) VALUES ('bob', '1'), ('al', '2')`, `'1'|'2'`, nil},
		{"insert no columns", `INSERT INTO customers VALUES (1, 'bob', 'e', 'p', 's')`, `1|'bob'|'e'|'p'|'s'`, nil},
		{"insert param", `INSERT INTO customers (name, ssn) VALUES ($1, $2)`, ``, []int{2}},
		{"insert expr", `INSERT INTO customers (name, ssn) VALUES ('bob', upper('abc'))`, `'abc'`, nil},
		{"insert select", `INSERT INTO customers (name, ssn) SELECT 'bob', '123'`, `'123'`, nil},
		{"insert select union", `INSERT INTO customers (name, ssn) SELECT 'bob', '1' UNION SELECT 'al', '2'`, `'1'|'2'`, nil},
		{"insert other table", `INSERT INTO orders (note) VALUES ('123')`, ``, nil},
		{"on conflict", `INSERT INTO customers (id, name) VALUES (1, 'b') ON CONFLICT (id) DO UPDATE SET phone = '555'`, `'555'`, nil},
		{"update", `UPDATE customers SET phone = '555-1234', name = 'x' WHERE id = 1`, `'555-1234'`, nil},
		{"update where", `UPDATE customers SET name = 'x' WHERE ssn = '1'`, `'1'`, nil},
		{"update multi", `UPDATE customers SET (name, ssn) = ('x', '1')`, `'1'`, nil},
		{"update param", `UPDATE customers SET ssn = $1 WHERE id = $2`, ``, []int{1}},
		{"merge", `MERGE INTO customers c USING orders o ON o.customer_id = c.id WHEN MATCHED THEN UPDATE SET ssn = '1' WHEN NOT MATCHED THEN INSERT (name, phone) VALUES ('n', '555')`, `'1'|'555'`, nil},
		{"returning untouched", `DELETE FROM customers WHERE id = 1 RETURNING ssn`, ``, nil},
		{"cte column", `WITH x AS (SELECT ssn FROM customers) SELECT * FROM x WHERE ssn = '1'`, `'1'`, nil},
		{"subquery column", `SELECT * FROM (SELECT ssn FROM customers) s WHERE s.ssn = '1'`, `'1'`, nil},
		{"cte", `WITH x AS (SELECT id FROM customers WHERE ssn = '1') SELECT * FROM x`, `'1'`, nil},
		{"prepare", `PREPARE p AS SELECT id FROM customers WHERE ssn = '1'`, `'1'`, nil},
		{"explain", `EXPLAIN SELECT id FROM customers WHERE ssn = '1'`, `'1'`, nil},
		{"explain insert", `EXPLAIN INSERT INTO customers (ssn) VALUES ('1')`, `'1'`, nil},
		{"execute", `EXECUTE p(1, 'x')`, `1|'x'`, nil},
		{"call", `CALL p('123', $1)`, `'123'`, []int{1}},
		{"null", `SELECT id FROM customers WHERE ssn IS NULL OR ssn = NULL`, ``, nil},
		{"json", `SELECT id FROM customers WHERE json_build_object('s', ssn) = '{"s":"1"}'::json`, `'s'|'{"s":"1"}'`, nil},
	} {
		for _, p := range parsers {
			tree, err := p.parse(c.sql)
			if err != nil {
				t.Fatalf("%s: %v", c.sql, err)
			}
			spans, params := classify.SensitiveLiterals(c.sql, tree, 0, maskedCols)
			if got := spanTexts(c.sql, spans); got != c.want {
				t.Errorf("%s %s: %s\n got %s\nwant %s", p.name, c.name, c.sql, got, c.want)
			}
			if fmt.Sprint(params) != fmt.Sprint(c.params) && !(len(params) == 0 && len(c.params) == 0) {
				t.Errorf("%s %s: params got %v, want %v", p.name, c.name, params, c.params)
			}
		}
	}
}

// TestSensitiveLiteralsMultiStatement checks that spans are offsets into the whole text
// of a multi-statement string, not into the statement.
func TestSensitiveLiteralsMultiStatement(t *testing.T) {
	sql := `SELECT 'a'; SELECT id FROM customers WHERE ssn = 'secret1'; UPDATE customers SET phone = $$555$$`
	tree, err := parsers[0].parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range tree.Stmts {
		spans, _ := classify.SensitiveLiterals(sql, tree, i, maskedCols)
		got = append(got, spanTexts(sql, spans))
	}
	if want := []string{"", "'secret1'", "$$555$$"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if spans, params := classify.SensitiveLiterals(sql, tree, 9, maskedCols); spans != nil || params != nil {
		t.Errorf("statement out of range: got %v %v", spans, params)
	}
}

// BenchmarkSensitiveLiterals measures the literal scan of a typical UPDATE.
func BenchmarkSensitiveLiterals(b *testing.B) {
	sql := `UPDATE customers c SET phone = '555-0100', name = $1 FROM orders o
		WHERE o.customer_id = c.id AND c.ssn IN ('123-45-6789', '987-65-4321') AND o.amount > 10`
	tree, err := parsers[0].parse(sql)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if spans, _ := classify.SensitiveLiterals(sql, tree, 0, maskedCols); len(spans) != 3 {
			b.Fatalf("got %d spans", len(spans))
		}
	}
}
