package classify_test

import (
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/classify"
)

// mapSchema is a Schema held in maps: relations by "schema.name", search_path public.
type mapSchema struct {
	rels  map[string]*classify.RelationDef
	funcs map[string]bool // built-in names
}

func (m *mapSchema) Relation(schema, name string) (*classify.RelationDef, error) {
	if schema == "" {
		schema = "public"
	}
	if r, ok := m.rels[schema+"."+name]; ok {
		return r, nil
	}
	return nil, classify.ErrNoRelation
}

func (m *mapSchema) Transparent(schema, name string) bool {
	return (schema == "" || schema == "pg_catalog") && m.funcs[name]
}

func testSchema(t testing.TB) *mapSchema {
	t.Helper()
	b, err := os.ReadFile("builtins.txt")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "f "); ok {
			funcs[name] = true
		}
	}
	tbl := func(schema, name string, cols ...string) *classify.RelationDef {
		return &classify.RelationDef{Schema: schema, Name: name, Columns: cols}
	}
	view := func(name, query string, cols ...string) *classify.RelationDef {
		return &classify.RelationDef{Schema: "public", Name: name, Columns: cols, Query: query}
	}
	rels := []*classify.RelationDef{
		tbl("public", "customers", "id", "name", "email", "phone", "ssn"),
		tbl("public", "orders", "id", "customer_id", "amount", "note"),
		tbl("public", "cards", "id", "customer_id", "card_n", "ip"),
		tbl("public", "items", "id", "note"),
		tbl("s2", "customers", "id", "secret"),
		view("v_cust", "SELECT customers.id, customers.name, customers.ssn FROM customers", "id", "name", "ssn"),
		view("v_v", "SELECT v_cust.name, v_cust.ssn FROM v_cust", "name", "ssn"),
		view("v_expr", "SELECT id, 'x' || ssn AS s FROM customers", "id", "s"),
		view("v_renamed", "SELECT id, ssn FROM customers", "cid", "secret"),
		view("cyc1", "SELECT a FROM cyc2", "a"),
		view("cyc2", "SELECT a FROM cyc1", "a"),
		view("v_bad", "SELECT FROM WHERE", "a"),
		view("v_func", "SELECT f(ssn) AS x FROM customers", "x"),
		{Schema: "public", Name: "ft", Columns: []string{"a", "b"}, Opaque: "foreign table public.ft"},
	}
	m := &mapSchema{rels: map[string]*classify.RelationDef{}, funcs: funcs}
	for _, r := range rels {
		m.rels[r.Schema+"."+r.Name] = r
	}
	return m
}

// fmtFlow writes a flow compactly: =t.c for a pass-through, {t.c,...} for a computed
// value (sources sorted), ? in front when Opaque, then (fields;...), [elem], <key:flow;...>.
func fmtFlow(f classify.Flow) string {
	var b strings.Builder
	if f.Opaque != "" {
		b.WriteString("?")
	}
	srcs := make([]string, len(f.Sources))
	for k, s := range f.Sources {
		srcs[k] = strings.TrimPrefix(s.String(), "public.")
	}
	if f.Pass {
		if len(srcs) != 1 {
			b.WriteString("=BAD" + strings.Join(srcs, ","))
		} else {
			b.WriteString("=" + srcs[0])
		}
	} else {
		sort.Strings(srcs)
		b.WriteString("{" + strings.Join(srcs, ",") + "}")
	}
	if f.Fields != nil {
		parts := make([]string, len(f.Fields))
		for k, g := range f.Fields {
			parts[k] = fmtFlow(g)
			if k < len(f.Names) {
				parts[k] = f.Names[k] + ":" + parts[k]
			}
		}
		b.WriteString("(" + strings.Join(parts, ";") + ")")
	}
	if f.Elem != nil {
		b.WriteString("[" + fmtFlow(*f.Elem) + "]")
	}
	if f.Keys != nil {
		keys := make([]string, 0, len(f.Keys))
		for k := range f.Keys {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for k, key := range keys {
			keys[k] = key + ":" + fmtFlow(f.Keys[key])
		}
		b.WriteString("<" + strings.Join(keys, ";") + ">")
	}
	return b.String()
}

func fmtFlows(fs []classify.Flow) string {
	parts := make([]string, len(fs))
	for k, f := range fs {
		parts[k] = fmtFlow(f)
	}
	return strings.Join(parts, " | ")
}

// checkInvariant checks that Sources holds every nested source and Pass means one.
func checkInvariant(t *testing.T, sql string, f classify.Flow) {
	t.Helper()
	if f.Pass && len(f.Sources) != 1 {
		t.Errorf("%s: Pass with %d sources", sql, len(f.Sources))
	}
	var nested []classify.Flow
	nested = append(nested, f.Fields...)
	if f.Elem != nil {
		nested = append(nested, *f.Elem)
	}
	for _, g := range f.Keys {
		nested = append(nested, g)
	}
	for _, g := range nested {
		for _, s := range g.Sources {
			if !slices.Contains(f.Sources, s) {
				t.Errorf("%s: nested source %s missing from Sources of %s", sql, s, fmtFlow(f))
			}
		}
		if g.Opaque != "" && f.Opaque == "" {
			t.Errorf("%s: nested Opaque not propagated in %s", sql, fmtFlow(f))
		}
		checkInvariant(t, sql, g)
	}
}

var lineageCases = []struct {
	name, sql, want string
}{
	// plain columns
	{"column", `SELECT ssn FROM customers`, `=customers.ssn`},
	{"renamed", `SELECT ssn AS x, name FROM customers`, `=customers.ssn | =customers.name`},
	{"qualified", `SELECT customers.ssn FROM customers`, `=customers.ssn`},
	{"schema qualified", `SELECT public.customers.ssn FROM public.customers`, `=customers.ssn`},
	{"other schema", `SELECT secret FROM s2.customers`, `=s2.customers.secret`},
	{"alias", `SELECT c.ssn FROM customers c`, `=customers.ssn`},
	{"system columns", `SELECT ctid, xmin, c.tableoid, ssn FROM customers c`, `{} | {} | {} | =customers.ssn`},
	{"system column of a view", `SELECT ctid FROM v_cust`, `?{}`},
	{"system column two tables", `SELECT ctid FROM items, orders`, `?{}`},
	{"literal", `SELECT 1, 'x'`, `{} | {}`},
	{"param", `SELECT $1::text`, `{}`},
	{"unknown column", `SELECT nope FROM customers`, `?{}`},
	{"unknown relation", `SELECT a FROM nowhere`, `?{}`},
	{"unknown qualifier", `SELECT z.ssn FROM customers c`, `?{}`},
	{"ambiguous", `SELECT id FROM customers, orders`, `?{}`},
	{"attribute notation", `SELECT c.nosuch FROM customers c`, `?{}`},
	// expressions
	{"concat", `SELECT 'x' || ssn FROM customers`, `{customers.ssn}`},
	{"concat two", `SELECT name || ssn FROM customers`, `{customers.name,customers.ssn}`},
	{"cast", `SELECT card_n::text || 'x' FROM cards`, `{cards.card_n}`},
	{"cast only", `SELECT ip::text FROM cards`, `{cards.ip}`},
	{"replace", `SELECT replace(ssn, '-', '') FROM customers`, `{customers.ssn}`},
	{"reverse", `SELECT reverse(email) FROM customers`, `{customers.email}`},
	{"encode", `SELECT encode(convert_to(email, 'UTF8'), 'base64') FROM customers`, `{customers.email}`},
	{"translate", `SELECT translate(phone, '0123456789', 'abcdefghij') FROM customers`, `{customers.phone}`},
	{"concat_ws", `SELECT concat_ws(' ', name, phone, ssn) FROM customers`, `{customers.name,customers.phone,customers.ssn}`},
	{"substr", `SELECT substr(card_n, 1, 8) FROM cards`, `{cards.card_n}`},
	{"money", `SELECT card_n::numeric::money FROM cards`, `{cards.card_n}`},
	{"collate", `SELECT ssn COLLATE "C" FROM customers`, `{customers.ssn}`},
	{"case conditions", `SELECT CASE WHEN ssn LIKE '1%' THEN 1 ELSE 0 END FROM customers`, `{customers.ssn}`},
	{"case arg", `SELECT CASE ssn WHEN 'a' THEN name END FROM customers`, `{customers.name,customers.ssn}`},
	{"coalesce", `SELECT coalesce(phone, email) FROM customers`, `{customers.email,customers.phone}`},
	{"nullif", `SELECT nullif(ssn, '') FROM customers`, `{customers.ssn}`},
	{"greatest", `SELECT greatest(ssn, name) FROM customers`, `{customers.name,customers.ssn}`},
	{"bool", `SELECT ssn IS NULL, ssn = 'x' AND id > 1 FROM customers`, `{customers.ssn} | {customers.id,customers.ssn}`},
	{"in list", `SELECT ssn IN ('a', name) FROM customers`, `{customers.name,customers.ssn}`},
	{"between", `SELECT ssn BETWEEN 'a' AND name FROM customers`, `{customers.name,customers.ssn}`},
	{"between symmetric", `SELECT ssn NOT BETWEEN SYMMETRIC 'a' AND 'b' FROM customers`, `{customers.ssn}`},
	{"not in", `SELECT ssn NOT IN ('a') FROM customers`, `{customers.ssn}`},
	{"similar", `SELECT ssn SIMILAR TO 'a%' FROM customers`, `{customers.ssn}`},
	{"ilike", `SELECT ssn NOT ILIKE 'a' FROM customers`, `{customers.ssn}`},
	{"distinct from", `SELECT ssn IS DISTINCT FROM 'a', ssn IS NOT DISTINCT FROM 'b' FROM customers`, `{customers.ssn} | {customers.ssn}`},
	{"any array", `SELECT ssn = ANY (ARRAY['a']), ssn <> ALL ('{a}') FROM customers`, `{customers.ssn} | {customers.ssn}`},
	{"prefix operator", `SELECT - id, @ id FROM customers`, `{customers.id} | {customers.id}`},
	{"is true", `SELECT (ssn = 'a') IS TRUE FROM customers`, `{customers.ssn}`},
	{"jsonb ops", `SELECT to_jsonb(ssn) #>> '{}', to_jsonb(ssn) ? 'x' FROM customers`, `{customers.ssn} | {customers.ssn}`},
	{"regex op", `SELECT substring(ssn FROM '\d+'), ssn ~ '1' FROM customers`, `{customers.ssn} | {customers.ssn}`},
	{"overlay position", `SELECT overlay(ssn PLACING 'x' FROM 1 FOR 2), position('1' IN ssn), trim(BOTH ' ' FROM ssn) FROM customers`, `{customers.ssn} | {customers.ssn} | {customers.ssn}`},
	{"extract at time zone", `SELECT extract(year FROM now()) + id, now() AT TIME ZONE name FROM customers`, `{customers.id} | {customers.name}`},
	{"current_setting", `SELECT current_setting('search_path'), current_setting('my.ssn'), current_setting(name) FROM customers`, `{} | ?{} | ?{}`},
	{"set_config", `SELECT set_config('my.ssn', ssn, false) FROM customers`, `{customers.ssn}`},
	{"sql value function", `SELECT current_user, now()`, `{} | {}`},
	{"xml", `SELECT xmlelement(name x, ssn) FROM customers`, `{customers.ssn}`},
	{"xmlforest", `SELECT xmlforest(ssn, name AS n) FROM customers`, `{customers.name,customers.ssn}`},
	{"xmlserialize", `SELECT xmlserialize(content xmlelement(name x, ssn) AS text) FROM customers`, `{customers.ssn}`},
	{"named arg", `SELECT make_interval(days => id) FROM customers`, `{customers.id}`},
	// functions
	{"user function", `SELECT f(ssn) FROM customers`, `?{customers.ssn}`},
	{"qualified user function", `SELECT public.lower(ssn) FROM customers`, `?{customers.ssn}`},
	{"pg_catalog function", `SELECT pg_catalog.lower(ssn) FROM customers`, `{customers.ssn}`},
	{"query_to_xml", `SELECT query_to_xml('select ssn from customers', true, false, '')`, `?{}`},
	{"table_to_xml", `SELECT table_to_xml('customers'::regclass, true, false, '')`, `?{}`},
	{"cursor_to_xml", `SELECT cursor_to_xml('c', 1, true, false, '')`, `?{}`},
	{"ts_stat", `SELECT * FROM ts_stat('select to_tsvector(ssn) from customers')`, `?{}`},
	{"dblink", `SELECT dblink('x', 'select 1')`, `?{}`},
	{"user operator", `SELECT ssn === 'x' FROM customers`, `?{customers.ssn}`},
	{"qualified operator", `SELECT ssn OPERATOR(public.||) 'x' FROM customers`, `?{customers.ssn}`},
	{"builtin operator qualified", `SELECT ssn OPERATOR(pg_catalog.||) 'x' FROM customers`, `{customers.ssn}`},
	// aggregates and windows
	{"count star", `SELECT count(*) FROM customers`, `{}`},
	{"count", `SELECT count(ssn) FROM customers`, `{customers.ssn}`},
	{"string_agg", `SELECT string_agg(ssn, ',') FROM customers`, `{customers.ssn}`},
	{"max", `SELECT max(ssn) FROM customers GROUP BY name`, `{customers.ssn}`},
	{"filter", `SELECT count(*) FILTER (WHERE ssn LIKE '1%') FROM customers`, `{customers.ssn}`},
	{"agg order", `SELECT string_agg(name, ',' ORDER BY ssn) FROM customers`, `{customers.name,customers.ssn}`},
	{"window", `SELECT first_value(ssn) OVER (PARTITION BY name ORDER BY id) FROM customers`, `{customers.id,customers.name,customers.ssn}`},
	{"named window", `SELECT rank() OVER w FROM customers WINDOW w AS (ORDER BY ssn)`, `{customers.ssn}`},
	{"window over named", `SELECT rank() OVER (w ROWS 1 PRECEDING) FROM customers WINDOW w AS (ORDER BY ssn)`, `{customers.ssn}`},
	{"lag", `SELECT lag(ssn, 1) OVER (ORDER BY id) FROM customers`, `{customers.id,customers.ssn}`},
	{"grouping sets", `SELECT name, ssn, count(*) FROM customers GROUP BY GROUPING SETS ((name), (ssn))`, `=customers.name | =customers.ssn | {}`},
	{"grouping", `SELECT grouping(ssn) FROM customers GROUP BY ROLLUP (ssn)`, `{customers.ssn}`},
	{"within group", `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY card_n) FROM cards`, `{cards.card_n}`},
	// star
	{"star", `SELECT * FROM customers`, `=customers.id | =customers.name | =customers.email | =customers.phone | =customers.ssn`},
	{"star two", `SELECT * FROM items, cards`, `=items.id | =items.note | =cards.id | =cards.customer_id | =cards.card_n | =cards.ip`},
	{"t star", `SELECT c.*, o.id FROM customers c JOIN orders o ON o.customer_id = c.id`, `=customers.id | =customers.name | =customers.email | =customers.phone | =customers.ssn | =orders.id`},
	{"star using", `SELECT * FROM items JOIN orders USING (id)`, `=items.id | =items.note | =orders.customer_id | =orders.amount | =orders.note`},
	{"star using full", `SELECT * FROM items FULL JOIN orders USING (id, note)`, `{items.id,orders.id} | {items.note,orders.note} | =orders.customer_id | =orders.amount`},
	{"star using right", `SELECT id FROM items RIGHT JOIN orders USING (id)`, `=orders.id`},
	{"natural", `SELECT * FROM items NATURAL JOIN orders`, `=items.id | =items.note | =orders.customer_id | =orders.amount`},
	{"using unqualified", `SELECT id, note FROM items JOIN orders USING (id, note)`, `=items.id | =items.note`},
	{"using qualified", `SELECT orders.id FROM items JOIN orders USING (id)`, `=orders.id`},
	{"join alias", `SELECT j.card_n FROM (cards JOIN items USING (id)) AS j`, `=cards.card_n`},
	{"join alias hides", `SELECT cards.card_n FROM (cards JOIN items USING (id)) AS j`, `?{}`},
	{"using alias", `SELECT x.id FROM cards JOIN items USING (id) AS x`, `=cards.id`},
	{"star opaque", `SELECT * FROM nowhere`, `?{}`},
	{"star over subquery", `SELECT * FROM (SELECT ssn, 'x' || name AS n FROM customers) s`, `=customers.ssn | {customers.name}`},
	{"star over values", `SELECT * FROM (VALUES (1, 'a')) v(a, b)`, `{} | {}`},
	{"table", `TABLE items`, `=items.id | =items.note`},
	// whole-row references and records
	{"whole row", `SELECT c FROM items c`, `{items.id,items.note}(id:=items.id;note:=items.note)`},
	{"whole row star expr", `SELECT row_to_json(c.*) FROM items c`, `{items.id,items.note}<id:=items.id;note:=items.note>`},
	{"row_to_json", `SELECT row_to_json(c) FROM items c`, `{items.id,items.note}<id:=items.id;note:=items.note>`},
	{"to_jsonb", `SELECT to_jsonb(c) FROM items c`, `{items.id,items.note}<id:=items.id;note:=items.note>`},
	{"row", `SELECT ROW(card_n, ip) FROM cards`, `{cards.card_n,cards.ip}(f1:=cards.card_n;f2:=cards.ip)`},
	{"row implicit", `SELECT (card_n, ip) FROM cards`, `{cards.card_n,cards.ip}(f1:=cards.card_n;f2:=cards.ip)`},
	{"record star", `SELECT (c).* FROM items c`, `=items.id | =items.note`},
	{"row star fields", `SELECT (ROW(card_n, ip)).* FROM cards`, `{cards.card_n} | {cards.ip}`},
	{"record star unknown", `SELECT (f(c)).* FROM items c`, `?{items.id,items.note}`},
	{"search cycle", `WITH RECURSIVE t(id, n) AS (SELECT id, note FROM items UNION ALL SELECT id + 1, n FROM t WHERE id < 3) SEARCH DEPTH FIRST BY n SET ord CYCLE id SET is_cycle USING path SELECT * FROM t`,
		`{items.id} | {items.note} | {items.note} | {items.id} | {items.id}`},
	{"record column field", `SELECT (s.c).note FROM (SELECT c FROM items c) s`, `{items.note}`},
	{"subquery row field", `SELECT (s).x FROM (SELECT ssn AS x FROM customers) s`, `=customers.ssn`},
	{"star row field", `SELECT (c.*).note FROM items c`, `=items.note`},
	{"row field", `SELECT (c).note FROM items c`, `=items.note`},
	{"row_to_json row", `SELECT row_to_json(ROW(card_n, 1)) FROM cards`, `{cards.card_n}<f1:=cards.card_n;f2:{}>`},
	{"whole row of subquery", `SELECT s FROM (SELECT 'x' || ssn AS a FROM customers) s`, `{customers.ssn}(a:{customers.ssn})`},
	{"whole row opaque", `SELECT t FROM ft t`, `?{}`},
	{"row star", `SELECT ROW(c.*) FROM items c`, `{items.id,items.note}(f1:{items.id,items.note}(id:=items.id;note:=items.note))`},
	// arrays
	{"array", `SELECT ARRAY[card_n] FROM cards`, `{cards.card_n}[=cards.card_n]`},
	{"array two", `SELECT ARRAY[card_n, ip::text] FROM cards`, `{cards.card_n,cards.ip}[{cards.card_n,cards.ip}]`},
	{"array glue", `SELECT ARRAY['x' || ssn] FROM customers`, `{customers.ssn}[{customers.ssn}]`},
	{"array_agg", `SELECT array_agg(ip) FROM cards`, `{cards.ip}[=cards.ip]`},
	{"array sublink", `SELECT ARRAY(SELECT ssn FROM customers)`, `{customers.ssn}[=customers.ssn]`},
	{"subscript", `SELECT (ARRAY[card_n])[1] FROM cards`, `{cards.card_n}`},
	{"subscript index", `SELECT (ARRAY[name])[id] FROM customers`, `{customers.id,customers.name}`},
	{"array of rows", `SELECT ARRAY[ROW(card_n)] FROM cards`, `{cards.card_n}[{cards.card_n}(f1:=cards.card_n)]`},
	{"unnest target", `SELECT unnest(ARRAY[ssn]) FROM customers`, `{customers.ssn}`},
	// json
	{"json_build_object", `SELECT json_build_object('k', 'x' || ssn, 'n', name) FROM customers`, `{customers.name,customers.ssn}<k:{customers.ssn};n:=customers.name>`},
	{"jsonb_build_object dynamic key", `SELECT jsonb_build_object(name, ssn) FROM customers`, `{customers.name,customers.ssn}`},
	{"json_agg", `SELECT json_agg(c) FROM items c`, `{items.id,items.note}[{items.id,items.note}<id:=items.id;note:=items.note>]`},
	{"jsonb_agg column", `SELECT jsonb_agg(ssn) FROM customers`, `{customers.ssn}[{customers.ssn}]`},
	{"json_object_agg", `SELECT json_object_agg(name, ssn) FROM customers`, `{customers.name,customers.ssn}`},
	{"json_build_array", `SELECT json_build_array(ssn, 1) FROM customers`, `{customers.ssn}[{customers.ssn}]`},
	{"JSON_OBJECT", `SELECT JSON_OBJECT('a': ssn, 'b': 1) FROM customers`, `{customers.ssn}<a:=customers.ssn;b:{}>`},
	{"JSON_ARRAY", `SELECT JSON_ARRAY(ssn, name) FROM customers`, `{customers.name,customers.ssn}[{customers.name,customers.ssn}]`},
	{"JSON_ARRAY query", `SELECT JSON_ARRAY(SELECT ssn FROM customers)`, `{customers.ssn}[=customers.ssn]`},
	{"JSON_ARRAYAGG", `SELECT JSON_ARRAYAGG(ssn ORDER BY id) FROM customers`, `{customers.id,customers.ssn}[=customers.ssn]`},
	{"JSON_OBJECTAGG", `SELECT JSON_OBJECTAGG(name: ssn) FROM customers`, `{customers.name,customers.ssn}`},
	{"JSON_VALUE", `SELECT JSON_VALUE(to_jsonb(c), '$.ssn') FROM customers c`, `{customers.email,customers.id,customers.name,customers.phone,customers.ssn}`},
	{"JSON_SERIALIZE", `SELECT JSON_SERIALIZE(JSON(ssn)) FROM customers`, `{customers.ssn}`},
	{"IS JSON", `SELECT ssn IS JSON FROM customers`, `{customers.ssn}`},
	{"nested constructors", `SELECT json_build_object('a', ARRAY[ROW(ssn, json_build_object('b', card_n))]) FROM customers JOIN cards ON cards.customer_id = customers.id`,
		`{cards.card_n,customers.ssn}<a:{cards.card_n,customers.ssn}[{cards.card_n,customers.ssn}(f1:=customers.ssn;f2:{cards.card_n}<b:=cards.card_n>)]>`},
	{"jsonb arrow", `SELECT to_jsonb(c) -> 'ssn' FROM customers c`, `{customers.email,customers.id,customers.name,customers.phone,customers.ssn}`},
	// subqueries
	{"scalar subquery", `SELECT (SELECT ssn FROM customers LIMIT 1)`, `{customers.ssn}`},
	{"correlated", `SELECT (SELECT c.ssn FROM customers c WHERE c.id = o.customer_id) FROM orders o`, `{customers.ssn}`},
	{"correlated outer column", `SELECT (SELECT o.note FROM items i LIMIT 1) FROM orders o`, `{orders.note}`},
	{"correlated shadowing", `SELECT (SELECT note FROM items) FROM orders`, `{items.note}`},
	{"exists", `SELECT EXISTS (SELECT 1 FROM customers WHERE ssn = 'x')`, `{}`},
	{"in subquery", `SELECT id IN (SELECT customer_id FROM cards) FROM customers`, `{cards.customer_id,customers.id}`},
	{"subquery in from", `SELECT x FROM (SELECT ssn AS x FROM customers) s`, `=customers.ssn`},
	{"subquery alias cols", `SELECT y FROM (SELECT ssn FROM customers) s(y)`, `=customers.ssn`},
	{"subquery expr", `SELECT s.n FROM (SELECT upper(name) AS n FROM customers) s`, `{customers.name}`},
	{"subquery unnamed", `SELECT upper FROM (SELECT upper(name) FROM customers) s`, `{customers.name}`},
	{"derived where", `SELECT id FROM (SELECT id FROM customers WHERE ssn = '1') s`, `=customers.id`},
	{"lateral", `SELECT l.x FROM customers c, LATERAL (SELECT c.ssn || 'x' AS x) l`, `{customers.ssn}`},
	{"lateral join", `SELECT l.card_n FROM customers c JOIN LATERAL (SELECT card_n FROM cards WHERE cards.customer_id = c.id) l ON true`, `=cards.card_n`},
	{"lateral unqualified", `SELECT x FROM customers, LATERAL (SELECT ssn AS x) l`, `=customers.ssn`},
	{"non-lateral cannot see", `SELECT x FROM customers c, (SELECT c.ssn AS x) l`, `?{}`},
	// CTEs
	{"cte", `WITH x AS (SELECT ssn FROM customers) SELECT ssn FROM x`, `=customers.ssn`},
	{"cte shadows table", `WITH customers AS (SELECT note AS ssn FROM items) SELECT ssn FROM customers`, `=items.note`},
	{"cte qualified is table", `WITH customers AS (SELECT note AS ssn FROM items) SELECT ssn FROM public.customers`, `=customers.ssn`},
	{"nested cte shadowing", `WITH a AS (SELECT ssn AS v FROM customers) SELECT v FROM (WITH a AS (SELECT note AS v FROM items) SELECT v FROM a) s`, `=items.note`},
	{"nested cte outer", `WITH a AS (SELECT ssn AS v FROM customers) SELECT (WITH b AS (SELECT v FROM a) SELECT v FROM b)`, `{customers.ssn}`},
	{"cte chain", `WITH a AS (SELECT ssn FROM customers), b AS (SELECT 'x' || ssn AS s FROM a) SELECT s FROM b`, `{customers.ssn}`},
	{"cte columns", `WITH a(z) AS (SELECT ssn FROM customers) SELECT z FROM a`, `=customers.ssn`},
	{"recursive", `WITH RECURSIVE r(n, s) AS (SELECT 1, ''::text UNION ALL SELECT n + 1, s || c.ssn FROM r JOIN customers c ON c.id = r.n) SELECT n, s FROM r`,
		`{} | {customers.ssn}`}, // the join condition is not a flow
	{"recursive two hops", `WITH RECURSIVE r(a, b) AS (SELECT 'x'::text, name FROM customers UNION SELECT b, ssn FROM r, customers) SELECT a FROM r`,
		`{customers.name,customers.ssn}`},
	{"cte dml", `WITH d AS (DELETE FROM customers RETURNING ssn) SELECT ssn FROM d`, `=customers.ssn`},
	{"materialized", `WITH x AS MATERIALIZED (SELECT ssn FROM customers) SELECT * FROM x`, `=customers.ssn`},
	// set operations
	{"union", `SELECT note FROM items UNION SELECT ssn FROM customers`, `{customers.ssn,items.note}`},
	{"union second arm", `SELECT 'x' UNION ALL SELECT ssn FROM customers`, `{customers.ssn}`},
	{"union same", `SELECT ssn FROM customers UNION SELECT ssn FROM customers`, `{customers.ssn}`},
	{"intersect except", `SELECT name FROM customers INTERSECT SELECT note FROM items EXCEPT SELECT ssn FROM customers`, `{customers.name,customers.ssn,items.note}`},
	{"values", `VALUES (1, 'a'), (2, 'b')`, `{} | {}`},
	{"values with column", `SELECT * FROM customers c, LATERAL (VALUES (c.ssn), ('x')) v(s)`,
		`=customers.id | =customers.name | =customers.email | =customers.phone | =customers.ssn | {customers.ssn}`},
	// FROM functions
	{"generate_series", `SELECT g FROM generate_series(1, 3) g`, `{}`},
	{"unnest from", `SELECT u FROM customers, unnest(ARRAY[ssn, name]) u`, `{customers.name,customers.ssn}`},
	{"unnest two", `SELECT * FROM cards, unnest(ARRAY[card_n], ARRAY[ip]) AS u(a, b)`, `=cards.id | =cards.customer_id | =cards.card_n | =cards.ip | {cards.card_n} | {cards.ip}`},
	{"unnest ordinality", `SELECT * FROM unnest(ARRAY['a']) WITH ORDINALITY AS u(x, n)`, `{} | {}`},
	{"jsonb_each", `SELECT * FROM customers c, jsonb_each(to_jsonb(c)) e`, `=customers.id | =customers.name | =customers.email | =customers.phone | =customers.ssn | {customers.email,customers.id,customers.name,customers.phone,customers.ssn} | {customers.email,customers.id,customers.name,customers.phone,customers.ssn}`},
	{"json_to_recordset", `SELECT a FROM customers c, json_to_recordset(json_build_array(to_json(c))) AS t(a text, b text)`, `{customers.email,customers.id,customers.name,customers.phone,customers.ssn}`},
	{"rows from", `SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['a'])) AS r(a, b)`, `{} | {}`},
	{"builtin record aliased", `SELECT s.application_name, s.pid FROM pg_stat_get_activity(NULL::integer) s(datid, pid, application_name)`, `{} | {}`},
	{"builtin record aliased over a column", `SELECT s.b FROM customers c, json_to_record(to_json(c)) s(a, b)`, `{customers.email,customers.id,customers.name,customers.phone,customers.ssn}`},
	{"user srf", `SELECT * FROM my_srf(1)`, `?{}`},
	{"user srf coldef", `SELECT * FROM my_srf(1) AS t(a int, b text)`, `?{} | ?{}`},
	{"xmltable", `SELECT x.a FROM customers c, XMLTABLE('/r' PASSING xmlelement(name r, c.ssn) COLUMNS a text PATH '.') x`, `{customers.ssn}`},
	{"json_table", `SELECT j.a FROM customers c, JSON_TABLE(to_jsonb(c), '$' COLUMNS (a text PATH '$.ssn', n FOR ORDINALITY)) j`, `{customers.email,customers.id,customers.name,customers.phone,customers.ssn}`},
	{"tablesample", `SELECT ssn FROM customers TABLESAMPLE SYSTEM (50)`, `=customers.ssn`},
	// views
	{"view", `SELECT ssn FROM v_cust`, `=customers.ssn`},
	{"view star", `SELECT * FROM v_cust`, `=customers.id | =customers.name | =customers.ssn`},
	{"view of view", `SELECT * FROM v_v`, `=customers.name | =customers.ssn`},
	{"view computed", `SELECT s FROM v_expr`, `{customers.ssn}`},
	{"view renamed", `SELECT secret FROM v_renamed`, `=customers.ssn`},
	{"view cycle", `SELECT a FROM cyc1`, `?{}`},
	{"view unreadable", `SELECT a FROM v_bad`, `?{}`},
	{"view function", `SELECT x FROM v_func`, `?{customers.ssn}`},
	{"view whole row", `SELECT to_json(v) FROM v_v v`, `{customers.name,customers.ssn}<name:=customers.name;ssn:=customers.ssn>`},
	{"foreign", `SELECT a FROM ft`, `?{}`},
	{"foreign star counted", `SELECT * FROM ft`, `?{} | ?{}`},
	{"foreign through subquery", `SELECT b, a FROM (SELECT * FROM ft) s`, `?{} | ?{}`},
	{"foreign through cte star", `WITH x AS (SELECT * FROM ft) SELECT x FROM x`, `?{}(a:?{};b:?{})`},
	{"foreign insert returning", `INSERT INTO items SELECT * FROM ft RETURNING note`, `?{items.note}`},
	{"insert short returning", `INSERT INTO items VALUES (1) RETURNING *`, `=items.id | =items.note`},
	{"unknown insert returning", `INSERT INTO items SELECT * FROM nowhere RETURNING note`, `?{items.note}`},
	{"unknown star subquery", `SELECT z FROM (SELECT * FROM nowhere) s`, `?{}`},
	// clauses that add no column
	{"distinct on", `SELECT DISTINCT ON (ssn) name FROM customers ORDER BY ssn, id`, `=customers.name`},
	{"order by expr", `SELECT name FROM customers ORDER BY lower(ssn)`, `=customers.name`},
	{"having", `SELECT name FROM customers GROUP BY name HAVING max(ssn) > 'a'`, `=customers.name`},
	{"select into", `SELECT ssn INTO t2 FROM customers`, ``},
	// DML RETURNING
	{"insert returning", `INSERT INTO customers (name, ssn) VALUES ('a', 'b') RETURNING ssn, id`, `=customers.ssn | =customers.id`},
	{"insert returning star", `INSERT INTO items VALUES (1, 'a') RETURNING *`, `=items.id | =items.note`},
	{"insert no returning", `INSERT INTO items VALUES (1, 'a')`, ``},
	{"insert alias", `INSERT INTO customers AS c (name) VALUES ('a') RETURNING c.ssn`, `=customers.ssn`},
	{"update returning from", `UPDATE orders o SET note = 'x' FROM customers c WHERE c.id = o.customer_id RETURNING c.ssn, o.note || 'y'`, `=customers.ssn | {orders.note}`},
	{"delete returning using", `DELETE FROM orders USING customers WHERE customers.id = orders.customer_id RETURNING customers.ssn`, `=customers.ssn`},
	{"delete returning expr", `DELETE FROM customers RETURNING 'x' || ssn`, `{customers.ssn}`},
	{"merge returning", `MERGE INTO items i USING customers c ON c.id = i.id WHEN MATCHED THEN UPDATE SET note = c.ssn RETURNING i.note, c.ssn, merge_action()`, `{customers.ssn,items.note} | =customers.ssn | {}`},
	{"merge insert returning", `MERGE INTO items i USING customers c ON c.id = i.id WHEN NOT MATCHED THEN INSERT (id, note) VALUES (c.id, c.ssn || 'x') RETURNING *`, `{customers.id,items.id} | {customers.ssn,items.note} | =customers.id | =customers.name | =customers.email | =customers.phone | =customers.ssn`},
	{"update assigns", `UPDATE items SET note = c.ssn FROM customers c RETURNING note, items.id`, `{customers.ssn,items.note} | =items.id`},
	{"update same column", `UPDATE customers SET name = name, ssn = ssn || '' RETURNING name, ssn`, `=customers.name | {customers.ssn}`},
	{"update assigns literal", `UPDATE items SET note = 'x' RETURNING note`, `=items.note`},
	{"update multi sublink", `UPDATE items SET (id, note) = (SELECT id, ssn FROM customers LIMIT 1) RETURNING note`, `{customers.ssn,items.note}`},
	{"update multi row", `UPDATE items SET (id, note) = (1, (SELECT ssn FROM customers LIMIT 1)) RETURNING id, note`, `=items.id | {customers.ssn,items.note}`},
	{"update subscript", `UPDATE items SET note[1] = 'x' || (SELECT ssn FROM customers LIMIT 1) RETURNING note`, `{customers.ssn,items.note}`},
	{"insert select assigns", `INSERT INTO items (id, note) SELECT id, ssn FROM customers RETURNING note, id`, `{customers.ssn,items.note} | {customers.id,items.id}`},
	{"insert values assigns", `INSERT INTO items VALUES (1, (SELECT ssn FROM customers LIMIT 1)) RETURNING note`, `{customers.ssn,items.note}`},
	{"on conflict assigns", `INSERT INTO items (id, note) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET note = (SELECT ssn FROM customers LIMIT 1) RETURNING note`, `{customers.ssn,items.note}`},
	{"on conflict excluded", `INSERT INTO items (id, note) SELECT id, ssn FROM customers ON CONFLICT (id) DO UPDATE SET id = excluded.id + 1 RETURNING id`, `{customers.id,items.id}`},
	{"with update returning", `WITH u AS (UPDATE items SET note = (SELECT ssn FROM customers LIMIT 1) RETURNING note) SELECT note FROM u`, `{customers.ssn,items.note}`},
	{"with insert returning", `WITH x AS (SELECT ssn FROM customers) INSERT INTO items (note) SELECT ssn FROM x RETURNING note`, `{customers.ssn,items.note}`},
	// other statements
	{"copy query", `COPY (SELECT 'x' || ssn FROM customers) TO STDOUT`, `{customers.ssn}`},
	{"copy table", `COPY items TO STDOUT`, `=items.id | =items.note`},
	{"copy columns", `COPY customers (ssn, id) TO STDOUT`, `=customers.ssn | =customers.id`},
	{"copy from", `COPY items FROM STDIN`, ``},
	{"copy unknown", `COPY nowhere TO STDOUT`, `?{}`},
	{"explain", `EXPLAIN SELECT ssn FROM customers`, `{}`},
	{"explain analyze", `EXPLAIN (ANALYZE, FORMAT JSON) SELECT ssn FROM customers`, `{}`},
	{"show", `SHOW search_path`, `{}`},
	{"show all", `SHOW ALL`, `{} | {} | {}`},
	{"call", `CALL p(1)`, `?{}`},
	{"declare", `DECLARE c CURSOR FOR SELECT ssn FROM customers`, ``},
	{"prepare", `PREPARE p AS SELECT ssn FROM customers`, ``},
	{"move", `MOVE NEXT IN c`, ``},
	{"set", `SET search_path = public`, ``},
	{"create table as", `CREATE TABLE t AS SELECT ssn FROM customers`, ``},
}

func lineageFor(t testing.TB) *classify.Lineage {
	return &classify.Lineage{Parse: parsers[0].parse, Schema: testSchema(t)}
}

// TestLineageFlows checks the flow of every result column through each construct.
func TestLineageFlows(t *testing.T) {
	for _, p := range parsers {
		l := &classify.Lineage{Parse: p.parse, Schema: testSchema(t)}
		for _, c := range lineageCases {
			tree, err := p.parse(c.sql)
			if err != nil {
				t.Errorf("%s %s: parse: %v", p.name, c.name, err)
				continue
			}
			flows, err := l.Flows(tree, 0)
			if err != nil {
				t.Errorf("%s %s: %v", p.name, c.name, err)
				continue
			}
			if got := fmtFlows(flows); got != c.want {
				t.Errorf("%s %s: %s\n got %s\nwant %s", p.name, c.name, c.sql, got, c.want)
			}
			for _, f := range flows {
				checkInvariant(t, c.sql, f)
			}
		}
	}
}

// TestLineageOpaqueReasons checks that a column that cannot be traced says why.
func TestLineageOpaqueReasons(t *testing.T) {
	l := lineageFor(t)
	for _, c := range []struct{ sql, reason string }{
		{`SELECT f(ssn) FROM customers`, "function f is not a built-in"},
		{`SELECT public.lower(ssn) FROM customers`, "function public.lower is not a built-in"},
		{`SELECT table_to_xml('customers'::regclass, true, false, '')`, "runs SQL"},
		{`SELECT a FROM nowhere`, "unknown relation nowhere"},
		{`SELECT id FROM customers, orders`, "ambiguous"},
		{`SELECT a FROM cyc1`, "refers to itself"},
		{`SELECT a FROM v_bad`, "could not be read"},
		{`SELECT a FROM ft`, "foreign table public.ft"},
		{`CALL p(1)`, "CALL"},
		{`SELECT nope FROM customers`, "unknown column nope"},
		{`SELECT ssn === 'x' FROM customers`, "operator === is not a built-in"},
	} {
		tree, err := parsers[0].parse(c.sql)
		if err != nil {
			t.Fatal(err)
		}
		flows, err := l.Flows(tree, 0)
		if err != nil || len(flows) == 0 {
			t.Errorf("%s: %v, %d flows", c.sql, err, len(flows))
			continue
		}
		if !strings.Contains(flows[0].Opaque, c.reason) {
			t.Errorf("%s: got reason %q, want it to say %q", c.sql, flows[0].Opaque, c.reason)
		}
	}
}

// TestLineageIndirect checks EXECUTE and FETCH: the caller must resolve them, and can
// through QueryFlows of the PREPARE or DECLARE.
func TestLineageIndirect(t *testing.T) {
	l := lineageFor(t)
	sql := `PREPARE p AS SELECT 'x' || ssn FROM customers; EXECUTE p; DECLARE c CURSOR FOR SELECT ssn FROM customers; FETCH 10 FROM c; SELECT 1`
	tree, err := parsers[0].parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	var ie *classify.IndirectError
	if _, err := l.Flows(tree, 1); !errors.As(err, &ie) || ie.Statement != "p" || ie.Cursor != "" {
		t.Errorf("EXECUTE: got %v, want IndirectError for statement p", err)
	}
	if _, err := l.Flows(tree, 3); !errors.As(err, &ie) || ie.Cursor != "c" || ie.Statement != "" {
		t.Errorf("FETCH: got %v, want IndirectError for cursor c", err)
	}
	for i, want := range map[int]string{0: `{customers.ssn}`, 2: `=customers.ssn`} {
		flows, err := l.Flows(tree, i)
		if err != nil || flows != nil {
			t.Errorf("statement %d: Flows got %v, %v; want none", i, flows, err)
		}
		flows, err = l.QueryFlows(tree, i)
		if err != nil || fmtFlows(flows) != want {
			t.Errorf("statement %d: QueryFlows got %s, %v; want %s", i, fmtFlows(flows), err, want)
		}
	}
	if flows, err := l.Flows(tree, 4); err != nil || fmtFlows(flows) != "{}" {
		t.Errorf("statement 4: got %s, %v", fmtFlows(flows), err)
	}
	if _, err := l.Flows(tree, 5); err == nil {
		t.Errorf("statement 5 of 5: got no error")
	}
}

// TestLineageNoSchemaFailsClosed checks that without a Schema every column is Opaque.
func TestLineageNoSchemaFailsClosed(t *testing.T) {
	l := &classify.Lineage{Parse: parsers[0].parse}
	tree, err := parsers[0].parse(`SELECT ssn, lower(name) FROM customers`)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := l.Flows(tree, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flows {
		if f.Opaque == "" {
			t.Errorf("got %s, want Opaque", fmtFlow(f))
		}
	}
}

// TestLineageDeepAndRepeated runs huge, deep and repeated inputs: no panic, and nothing
// unknown comes out as a plain value.
func TestLineageDeepAndRepeated(t *testing.T) {
	l := lineageFor(t)
	deep := "ssn"
	for range 200 {
		deep = "lower(" + deep + ")"
	}
	wide := "SELECT " + strings.Repeat("ssn || ", 2000) + "'x' FROM customers"
	nested := "SELECT ssn FROM customers"
	for range 50 {
		nested = "SELECT ssn FROM (" + nested + ") s"
	}
	views := "WITH " + strings.Repeat("a AS (SELECT 1), ", 100) + "b AS (SELECT ssn FROM customers) SELECT * FROM b"
	for _, c := range []struct{ sql, want string }{
		{"SELECT " + deep + " FROM customers", "{customers.ssn}"},
		{wide, "{customers.ssn}"},
		{nested, "=customers.ssn"},
		{views, "=customers.ssn"},
	} {
		tree, err := parsers[0].parse(c.sql)
		if err != nil {
			t.Fatal(err)
		}
		flows, err := l.Flows(tree, 0)
		if err != nil || fmtFlows(flows) != c.want {
			t.Errorf("%.60s...: got %s, %v; want %s", c.sql, fmtFlows(flows), err, c.want)
		}
	}
}

// BenchmarkFlows measures the flows of a typical three-table join.
func BenchmarkFlows(b *testing.B) {
	l := lineageFor(b)
	tree, err := parsers[0].parse(`SELECT c.id, c.name, 'x' || c.ssn AS s, o.amount, k.card_n, json_build_object('ip', k.ip)
		FROM customers c JOIN orders o ON o.customer_id = c.id JOIN cards k ON k.customer_id = c.id
		WHERE c.id > $1 ORDER BY o.amount DESC LIMIT 10`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Flows(tree, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLineageEvasionClasses is the attack of issue 13: a masked column (customers.ssn)
// read through glue, expressions, casts, arrays, records, JSON, subqueries, CTEs, set
// operations, views, functions and DML RETURNING, so that it no longer arrives as the
// plain column that column rules see. It proves that every such result column names
// customers.ssn among its sources (or is Opaque) and is never a pass-through: the gateway
// then masks it whole.
func TestLineageEvasionClasses(t *testing.T) {
	l := lineageFor(t)
	ssn := classify.Source{Schema: "public", Table: "customers", Column: "ssn"}
	for _, sql := range evasionQueries {
		tree, err := parsers[0].parse(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		flows, err := l.Flows(tree, 0)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		found := false
		for _, f := range flows {
			if f.Opaque != "" || slices.Contains(f.Sources, ssn) {
				found = true
				if f.Pass {
					t.Errorf("%s: a computed column is Pass: %s", sql, fmtFlow(f))
				}
			}
		}
		if !found {
			t.Errorf("%s: no column names customers.ssn: %s", sql, fmtFlows(flows))
		}
	}
}

// evasionQueries read customers.ssn so that it is not the plain column.
var evasionQueries = []string{
	`SELECT 'x' || ssn FROM customers`,
	`SELECT ssn || '' FROM customers`,
	`SELECT format('%s', ssn) FROM customers`,
	`SELECT ssn::bytea FROM customers`,
	`SELECT ssn::text::bytea FROM customers`,
	`SELECT CAST(ssn AS varchar(3)) FROM customers`,
	`SELECT replace(ssn, '-', '') FROM customers`,
	`SELECT reverse(ssn) FROM customers`,
	`SELECT upper(lower(initcap(ssn))) FROM customers`,
	`SELECT encode(convert_to(ssn, 'UTF8'), 'base64') FROM customers`,
	`SELECT md5(ssn) FROM customers`,
	`SELECT translate(ssn, '0123456789', 'abcdefghij') FROM customers`,
	`SELECT substr(ssn, 1, 3) || substr(ssn, 4) FROM customers`,
	`SELECT split_part(ssn, '-', 1) FROM customers`,
	`SELECT regexp_replace(ssn, '(\d)', '\1 ', 'g') FROM customers`,
	`SELECT ascii(ssn) FROM customers`,
	`SELECT length(ssn) FROM customers`,
	`SELECT ARRAY[ssn] FROM customers`,
	`SELECT array_agg(ssn) FROM customers`,
	`SELECT array_to_string(array_agg(ssn), ',') FROM customers`,
	`SELECT string_to_array(ssn, '-') FROM customers`,
	`SELECT ROW(ssn) FROM customers`,
	`SELECT c FROM customers c`,
	`SELECT c.* IS NOT NULL, row_to_json(c) FROM customers c`,
	`SELECT to_json(c)::text FROM customers c`,
	`SELECT json_build_object('k', ssn) FROM customers`,
	`SELECT jsonb_build_array(ssn) FROM customers`,
	`SELECT json_agg(ssn) FROM customers`,
	`SELECT jsonb_object_agg(id, ssn) FROM customers`,
	`SELECT xmlelement(name x, ssn) FROM customers`,
	`SELECT (SELECT ssn FROM customers LIMIT 1)`,
	`SELECT ARRAY(SELECT ssn FROM customers)`,
	`SELECT s FROM (SELECT ssn || '' AS s FROM customers) t`,
	`WITH t AS (SELECT upper(ssn) AS s FROM customers) SELECT s FROM t`,
	`SELECT 'x' UNION SELECT ssn FROM customers`,
	`SELECT x FROM customers, LATERAL (SELECT ssn || '' AS x) l`,
	`SELECT u FROM customers, unnest(ARRAY[ssn]) u`,
	`SELECT key || value FROM customers c, jsonb_each_text(to_jsonb(c))`,
	`SELECT s FROM v_expr`,
	`SELECT x FROM v_func`,
	`SELECT f(ssn) FROM customers`,
	`SELECT query_to_xml('SELECT ssn FROM customers', true, false, '') FROM customers`,
	`SELECT CASE WHEN ssn LIKE '1%' THEN 'one' ELSE 'other' END FROM customers`,
	`SELECT max(ssn) OVER () FROM customers`,
	`SELECT string_agg(ssn, ',') FILTER (WHERE id > 0) FROM customers`,
	`SELECT coalesce(NULL, ssn) FROM customers`,
	`SELECT greatest(ssn, '') FROM customers`,
	`DELETE FROM customers RETURNING 'x' || ssn`,
	`UPDATE items SET note = c.ssn FROM customers c RETURNING note`,
	`INSERT INTO items (id, note) SELECT id, ssn FROM customers RETURNING note`,
	`COPY (SELECT ssn || '' FROM customers) TO STDOUT`,
	`SELECT JSON_OBJECT('k': ssn) FROM customers`,
	`SELECT JSON_ARRAYAGG(ssn) FROM customers`,
	`SELECT (ARRAY[ssn])[1] FROM customers`,
	`SELECT (ROW(ssn, 1)).f1 FROM customers`,
}

// FuzzFlows checks that any statement the parser accepts gets flows without a panic,
// with Sources holding every nested source and Pass only for one source.
func FuzzFlows(f *testing.F) {
	for _, c := range lineageCases {
		f.Add(c.sql)
	}
	l := lineageFor(f)
	f.Fuzz(func(t *testing.T, sql string) {
		tree, err := parsers[0].parse(sql)
		if err != nil {
			return
		}
		for i := range tree.Stmts {
			flows, _ := l.Flows(tree, i)
			for _, fl := range flows {
				checkInvariant(t, sql, fl)
			}
			_, _ = l.QueryFlows(tree, i)
			classify.SensitiveLiterals(sql, tree, i, maskedCols)
		}
	})
}

// TestLineageSharedSources is the class of a flow losing a source because two flows built
// from one shared column appended into the same array: each expression over a
// many-sourced value must keep its own extra source.
func TestLineageSharedSources(t *testing.T) {
	l := lineageFor(t)
	sql := `WITH x AS (SELECT name || email || phone AS v FROM customers)
		SELECT v || ssn, v || id::text, v FROM x, customers`
	tree, err := parsers[0].parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	flows, err := l.Flows(tree, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{customers.email,customers.name,customers.phone,customers.ssn} | {customers.email,customers.id,customers.name,customers.phone} | {customers.email,customers.name,customers.phone}`
	if got := fmtFlows(flows); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
