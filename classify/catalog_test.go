package classify_test

import (
	"strings"
	"testing"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
)

// testCatalog is a snapshot as the gateway would read it from a database in which
// public.touch_canary() is a VOLATILE plpgsql function that UPDATEs.
func testCatalog() *classify.Catalog {
	fn := func(oid uint32, schema, name string, args int, lang string, vol byte) classify.Function {
		return classify.Function{OID: oid, Schema: schema, Name: name, Args: args, Kind: 'f', Volatile: vol, Language: lang}
	}
	funcs := []classify.Function{
		// built-ins
		fn(870, "pg_catalog", "lower", 1, "internal", 'i'),
		fn(1299, "pg_catalog", "now", 0, "internal", 's'),
		fn(1598, "pg_catalog", "random", 0, "internal", 'v'),
		fn(1574, "pg_catalog", "nextval", 1, "internal", 'v'),
		fn(2147, "pg_catalog", "count", 0, "internal", 'i'),
		fn(4000, "pg_catalog", "dblink_exec", 2, "c", 'v'), // dblink, as if in pg_catalog
		fn(1067, "pg_catalog", "generate_series", 2, "internal", 'i'),
		fn(3271, "pg_catalog", "jsonb_build_object", 1, "internal", 's'),
		fn(3100, "pg_catalog", "row_number", 0, "internal", 'i'),
		// the database's own
		fn(20000, "public", "touch_canary", 0, "plpgsql", 'v'),
		fn(20001, "public", "stable_sql", 1, "sql", 's'),
		fn(20002, "public", "imm_c", 1, "c", 'i'),
		fn(20003, "public", "imm_plpython", 1, "plpython3u", 'i'),
		fn(20004, "public", "report_daily", 0, "sql", 'v'), // listed in the policy
		fn(20005, "public", "imm_plpgsql", 1, "plpgsql", 'i'),
		fn(20006, "public", "report", 1, "sql", 's'),
		fn(20007, "audit", "report", 1, "plpgsql", 'v'), // same name, another schema
		fn(20008, "public", "stable_plpgsql", 0, "plpgsql", 's'),
		fn(20009, "public", "stable_plperl", 0, "plperl", 's'),
		fn(20011, "public", "eq_touch", 2, "plpgsql", 'v'),
		fn(20012, "public", "to_money2", 1, "plpgsql", 'v'),
		fn(20013, "public", "touch_sfunc", 2, "plpgsql", 'v'),
		fn(20015, "public", "defaulted", 1, "sql", 's'),
		fn(20016, "public", "stable_calls_touch", 0, "sql", 's'),
		fn(20017, "public", "view_fn", 1, "sql", 'i'),
		fn(20018, "public", "nextval_default", 1, "sql", 's'),
	}
	funcs[len(funcs)-4].Defaults = 1
	funcs[7].Variadic = true                    // jsonb_build_object(VARIADIC "any")
	funcs[len(funcs)-4].Calls = []uint32{20000} // defaulted(a int DEFAULT touch_canary())
	funcs[len(funcs)-3].Calls = []uint32{20000} // BEGIN ATOMIC SELECT touch_canary(); END
	funcs[len(funcs)-1].Defaults = 1
	funcs[len(funcs)-1].Calls = []uint32{1574} // nextval_default(a bigint DEFAULT nextval('s'))
	stableBody := fn(20022, "public", "stable_body_touch", 0, "sql", 's')
	stableBody.Body = "SELECT touch_canary() -- writes, though this is STABLE"
	dynamic := fn(20023, "public", "stable_dynamic", 1, "plpgsql", 's')
	dynamic.Body = "BEGIN RETURN QUERY EXECUTE format('SELECT %s()', $1); END"
	nextvalBody := fn(20024, "public", "stable_nextval", 0, "sql", 'i')
	nextvalBody.Body = "SELECT NextVal('s')"
	readBody := fn(20025, "public", "stable_reads", 0, "plpgsql", 's')
	readBody.Body = "BEGIN RETURN (SELECT count(*) FROM t WHERE stable_sql(id) > 0); END"
	funcs = append(funcs, stableBody, dynamic, nextvalBody, readBody)
	variadic := fn(20019, "public", "vsum", 1, "plpgsql", 'v') // vsum(VARIADIC int[])
	variadic.Variadic = true
	funcs = append(funcs, variadic,
		classify.Function{OID: 20014, Schema: "public", Name: "sum_touch", Args: 1, Kind: 'a', Volatile: 'i', Language: "internal", Calls: []uint32{20013}},
		classify.Function{OID: 20020, Schema: "public", Name: "my_sum", Args: 1, Kind: 'a', Volatile: 'i', Language: "internal", Calls: []uint32{20001}},
		classify.Function{OID: 20021, Schema: "public", Name: "do_thing", Args: 0, Kind: 'p', Volatile: 'v', Language: "plpgsql"},
	)
	ops := []classify.Operator{
		{OID: 96, Schema: "pg_catalog", Name: "=", Args: 2, Func: 65},
		{OID: 551, Schema: "pg_catalog", Name: "+", Args: 2, Func: 177},
		{OID: 558, Schema: "pg_catalog", Name: "-", Args: 1, Func: 212},
		{OID: 525, Schema: "pg_catalog", Name: ">=", Args: 2, Func: 150},
		{OID: 523, Schema: "pg_catalog", Name: "<=", Args: 2, Func: 149},
		{OID: 521, Schema: "pg_catalog", Name: ">", Args: 2, Func: 147},
		{OID: 1209, Schema: "pg_catalog", Name: "~~", Args: 2, Func: 850},
		{OID: 30000, Schema: "public", Name: "===", Args: 2, Func: 20011},
		{OID: 30001, Schema: "public", Name: "=", Args: 2, Func: 20011}, // = on a user type
	}
	casts := []classify.Cast{{Schema: "public", Type: "money2", Func: 20012}}
	rels := []classify.Relation{
		{OID: 40000, Schema: "public", Name: "v_touch", Functions: []uint32{20000}},
		{OID: 40001, Schema: "public", Name: "v_outer", Relations: []uint32{40000}},
		{OID: 40002, Schema: "public", Name: "v_ok", Functions: []uint32{20017, 870}},
		{OID: 40003, Schema: "public", Name: "t_rls", Functions: []uint32{20002}}, // a row-level security policy
		{OID: 40004, Schema: "public", Name: "v_dblink", Functions: []uint32{4000}},
		{OID: 40005, Schema: "public", Name: "v_cycle", Relations: []uint32{40006}},
		{OID: 40006, Schema: "public", Name: "v_cycle2", Relations: []uint32{40005}},
	}
	c := classify.NewCatalog(funcs, ops, casts, rels, []string{"int4", "text", "numeric"})
	c.Version = "test snapshot"
	return c
}

// listed is the policy's functions.read in these tests.
func listed(schema, name string) bool {
	return schema == "public" && strings.HasPrefix(name, "report_")
}

// resolved classifies sql and judges its statement's refs as the gateway does.
func resolved(t *testing.T, c *classify.Classifier, rv classify.Resolver, sql string) (policy.Class, string) {
	t.Helper()
	sts, err := c.Classify(sql)
	if err != nil || len(sts) != 1 {
		t.Fatalf("Classify(%q): %d statements, %v", sql, len(sts), err)
	}
	st := sts[0]
	res := rv.Resolve(st.Refs)
	if rankOf(res.Class) > rankOf(st.Class) {
		return res.Class, res.Reason
	}
	return st.Class, st.Reason
}

func rankOf(c policy.Class) int {
	for i, k := range policy.Classes() {
		if k == c {
			return i
		}
	}
	return 99
}

// TestFunctionsThatWriteAreNotRead is the regression test of the class "functions that
// write are classed read": a call of a function the database defines is judged by what
// the function can do, in every position a SELECT can run it.
func TestFunctionsThatWriteAreNotRead(t *testing.T) {
	rv := classify.Resolver{Catalog: testCatalog(), Listed: listed}
	positions := []string{
		"SELECT touch_canary()",                                         // target list
		"SELECT public.touch_canary()",                                  // qualified
		`SELECT "touch_canary"()`,                                       // quoted
		"SELECT 1 WHERE touch_canary() IS NOT NULL",                     // WHERE
		"SELECT * FROM touch_canary()",                                  // FROM
		"SELECT * FROM ROWS FROM (touch_canary()) AS r",                 // ROWS FROM
		"SELECT * FROM generate_series(1, 2) g, LATERAL touch_canary()", // LATERAL
		"SELECT * FROM t JOIN LATERAL (SELECT touch_canary()) x ON true",
		"EXPLAIN ANALYZE SELECT touch_canary()", // EXPLAIN ANALYZE
		"EXPLAIN (ANALYZE, FORMAT JSON) SELECT touch_canary()",
		"EXPLAIN SELECT touch_canary()",                     // planned only, but the planner may call functions: strict
		"COPY (SELECT touch_canary()) TO STDOUT",            // COPY (SELECT ...)
		"WITH c AS (SELECT touch_canary()) SELECT * FROM c", // CTE
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE touch_canary() IS NULL) SELECT * FROM r",
		"SELECT (SELECT touch_canary())", // subquery
		"SELECT 1 WHERE EXISTS (SELECT touch_canary())",
		"SELECT 1 WHERE 1 IN (SELECT 1 FROM t WHERE touch_canary() IS NULL)",
		"SELECT id FROM t ORDER BY touch_canary()", // ORDER BY
		"SELECT id FROM t GROUP BY id HAVING count(*) > 0 AND touch_canary() IS NULL",
		"SELECT count(*) FILTER (WHERE touch_canary() IS NULL) FROM t",
		"SELECT row_number() OVER (ORDER BY touch_canary()) FROM t",
		"SELECT CASE WHEN true THEN touch_canary() END",
		"SELECT coalesce(touch_canary(), 1)",
		"SELECT ARRAY[touch_canary()]",
		"SELECT jsonb_build_object('a', touch_canary())",
		"VALUES (touch_canary())",
		"SELECT * FROM (VALUES (touch_canary())) v",
		"SELECT 1 UNION SELECT touch_canary()",
		"DECLARE c CURSOR FOR SELECT touch_canary()", // a cursor's query
		"PREPARE p AS SELECT touch_canary()",         // runs on EXECUTE
		"EXECUTE p(touch_canary())",                  // EXECUTE's arguments
		"SELECT t.imm_c FROM t",                      // attribute notation: imm_c(t)
		"SELECT lower(touch_canary()::text)",
		"SELECT stable_sql(touch_canary())",
		"SELECT defaulted()",          // DEFAULT: its default calls touch_canary()
		"SELECT stable_calls_touch()", // a BEGIN ATOMIC body that calls it
		"SELECT 1 === 2",              // an operator whose function writes
		"SELECT 1 OPERATOR(public.===) 2",
		"SELECT * FROM t WHERE a = ANY (SELECT 1)", // = has a user candidate
		"SELECT '1'::money2",                       // a cast WITH FUNCTION
		"SELECT CAST(1 AS public.money2)",
		"SELECT money2(1)",             // function-style cast
		"SELECT * FROM v_touch",        // a view that calls it
		"SELECT * FROM public.v_outer", // a view on that view
		"SELECT (SELECT count(*) FROM v_touch)",
		"SELECT * FROM t_rls",        // a row-level security policy
		"SELECT sum_touch(x) FROM t", // an aggregate's transition function
		"SELECT report(1)",           // audit.report is a VOLATILE candidate
		"SELECT audit.report(1)",
		"SELECT vsum(1, 2, 3)",                  // VARIADIC
		"SELECT no_such_function()",             // unknown: fail closed
		"SELECT nextval_default()",              // its default calls nextval
		"SELECT stable_body_touch()",            // STABLE, but its body calls touch_canary()
		"SELECT stable_dynamic('touch_canary')", // STABLE plpgsql running EXECUTE
		"SELECT stable_nextval()",               // IMMUTABLE, its body calls nextval
	}
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, sql := range positions {
			got, why := resolved(t, c, rv, sql)
			if rankOf(got) < rankOf(write) {
				t.Errorf("%s: %s: got %s (%s), want at least write", p.name, sql, got, why)
			}
			if strings.Contains(why, "not in the gateway's catalog") != strings.Contains(sql, "no_such") {
				t.Errorf("%s: %s: write for another reason than the one tested: %s", p.name, sql, why)
			}
		}
	}
}

// TestFunctionsThatReadStayRead: what only reads stays read.
func TestFunctionsThatReadStayRead(t *testing.T) {
	rv := classify.Resolver{Catalog: testCatalog(), Listed: listed}
	reads := []string{
		"SELECT 1",
		"SELECT lower('A'), now(), random(), count(*) FROM t",
		"SELECT stable_sql(1)",
		"SELECT public.stable_sql(1) WHERE imm_plpgsql(2) > 0 ORDER BY stable_plpgsql()",
		"SELECT * FROM stable_sql(1)",
		"SELECT public.report(1)", // qualified: only public's, which is STABLE
		"SELECT report_daily()",   // VOLATILE, but listed under functions.read
		"SELECT int4('1'), text(1)",
		"SELECT 1 + 2, -1, 'a' LIKE 'b', 1 BETWEEN 0 AND 2",
		"SELECT * FROM v_ok, v_cycle",
		"SELECT my_sum(x) FROM t",
		"SELECT * FROM generate_series(1, 2, 3, 4)", // no such arity: only built-ins have the name (unnest(a, b) in FROM)
		"SELECT t.id, t.name FROM t",
		"EXPLAIN SELECT stable_sql(1)",
		"SELECT stable_reads()", // its body names only functions that read
	}
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, sql := range reads {
			if got, why := resolved(t, c, rv, sql); got != read {
				t.Errorf("%s: %s: got %s (%s), want read", p.name, sql, got, why)
			}
		}
	}
}

// TestFunctionMatrix is volatility × language × listing: STABLE and IMMUTABLE are read
// only in the languages whose volatility PostgreSQL enforces; a listing makes any read.
func TestFunctionMatrix(t *testing.T) {
	vols := map[byte]string{'v': "VOLATILE", 's': "STABLE", 'i': "IMMUTABLE"}
	for _, lang := range []string{"sql", "plpgsql", "c", "internal", "plpython3u", "plperl", "plperlu", "pltcl", "plv8"} {
		for vol, volName := range vols {
			for _, isListed := range []bool{false, true} {
				f := classify.Function{OID: 25000, Schema: "public", Name: "f", Args: 0, Kind: 'f', Volatile: vol, Language: lang}
				c := classify.NewCatalog([]classify.Function{f}, nil, nil, nil, nil)
				rv := classify.Resolver{Catalog: c, Listed: func(s, n string) bool { return isListed && s == "public" && n == "f" }}
				res := rv.Resolve([]classify.Ref{{Kind: classify.RefFunction, Name: "f"}})
				want := write
				if isListed || vol != 'v' && (lang == "sql" || lang == "plpgsql") {
					want = read
				}
				// A member of an extension the policy vouches for is taken at its word.
				ext := f
				ext.Extension = "postgis"
				for _, vouched := range []bool{false, true} {
					erv := classify.Resolver{Catalog: classify.NewCatalog([]classify.Function{ext}, nil, nil, nil, nil),
						Extensions: func(name string) bool { return vouched && name == "postgis" }}
					eres := erv.Resolve([]classify.Ref{{Kind: classify.RefFunction, Name: "f"}})
					ewant := write
					if vol != 'v' && (vouched || lang == "sql" || lang == "plpgsql") {
						ewant = read
					}
					if eres.Class != ewant {
						t.Errorf("%s %s in extension postgis, vouched=%v: got %s (%s), want %s", volName, lang, vouched, eres.Class, eres.Reason, ewant)
					}
					if ewant == write && vol != 'v' && !strings.Contains(eres.Reason, "its extension postgis under functions.extensions") {
						t.Errorf("%s %s in extension postgis: reason %q does not offer the extension", volName, lang, eres.Reason)
					}
				}
				// A member of a trusted extension is taken at its word.
				trusted := f
				trusted.Trusted = true
				tres := classify.Resolver{Catalog: classify.NewCatalog([]classify.Function{trusted}, nil, nil, nil, nil)}.Resolve([]classify.Ref{{Kind: classify.RefFunction, Name: "f"}})
				if twant := map[bool]policy.Class{true: write, false: read}[vol == 'v']; tres.Class != twant {
					t.Errorf("%s %s in a trusted extension: got %s, want %s", volName, lang, tres.Class, twant)
				}
				if res.Class != want {
					t.Errorf("%s %s listed=%v: got %s (%s), want %s", volName, lang, isListed, res.Class, res.Reason, want)
				}
				if want == write {
					if !strings.Contains(res.Reason, "public.f()") || !strings.Contains(res.Reason, "functions.read") {
						t.Errorf("%s %s: reason %q does not name the function and the way out", volName, lang, res.Reason)
					}
				}
			}
		}
	}
}

func TestResolveReasons(t *testing.T) {
	rv := classify.Resolver{Catalog: testCatalog(), Listed: listed}
	tests := []struct {
		refs  []classify.Ref
		class policy.Class
		want  string
	}{
		{[]classify.Ref{{Kind: classify.RefFunction, Name: "touch_canary"}}, write,
			"function public.touch_canary() is VOLATILE; list it under functions.read in the policy if it only reads"},
		{[]classify.Ref{{Kind: classify.RefFunction, Name: "imm_c", Args: 1}}, write,
			"function public.imm_c() is in language c, which may write whatever its volatility says"},
		{[]classify.Ref{{Kind: classify.RefRelation, Name: "v_outer"}}, write,
			"relation public.v_outer: relation public.v_touch: function public.touch_canary() is VOLATILE"},
		{[]classify.Ref{{Kind: classify.RefRelation, Name: "v_dblink"}}, admin,
			"relation public.v_dblink: function pg_catalog.dblink_exec() is admin"},
		{[]classify.Ref{{Kind: classify.RefFunction, Name: "nosuch"}}, write,
			"function nosuch() is not in the gateway's catalog snapshot (test snapshot)"},
		// No such arity, but the database has functions of that name: not a built-in form.
		{[]classify.Ref{{Kind: classify.RefFunction, Name: "report", Args: 2}}, write,
			"function report() is not in the gateway's catalog snapshot (test snapshot)"},
		{[]classify.Ref{{Kind: classify.RefOperator, Name: "===", Args: 2}}, write,
			"operator ===: function public.eq_touch() is VOLATILE"},
		{[]classify.Ref{{Kind: classify.RefFunction, Name: "sum_touch", Args: 1}}, write,
			"function public.sum_touch() runs when it does: function public.touch_sfunc() is VOLATILE"},
	}
	for _, tt := range tests {
		res := rv.Resolve(tt.refs)
		if res.Class != tt.class || !strings.Contains(res.Reason, tt.want) {
			t.Errorf("Resolve(%v): got %s %q, want %s %q", tt.refs, res.Class, res.Reason, tt.class, tt.want)
		}
	}
	if res := rv.Resolve([]classify.Ref{{Kind: classify.RefFunction, Name: "nosuch"}}); !res.Unknown {
		t.Errorf("an unknown function: Unknown not set")
	}
}

// TestSessionChangedFunctions: a session that changed code in the database may have done
// it in a transaction the snapshot cannot see; all of the database's functions are write.
func TestSessionChangedFunctions(t *testing.T) {
	rv := classify.Resolver{Catalog: testCatalog(), Listed: listed, Changed: "ALTER FUNCTION"}
	for _, ref := range []classify.Ref{
		{Kind: classify.RefFunction, Name: "stable_sql", Args: 1},
		{Kind: classify.RefFunction, Name: "report_daily"},
		{Kind: classify.RefRelation, Name: "v_ok"},
	} {
		if res := rv.Resolve([]classify.Ref{ref}); res.Class != write || !strings.Contains(res.Reason, "this session ran ALTER FUNCTION") {
			t.Errorf("%v: got %s %q, want write", ref, res.Class, res.Reason)
		}
	}
	if res := rv.Resolve([]classify.Ref{{Kind: classify.RefFunction, Name: "lower", Args: 1}}); res.Class != read {
		t.Errorf("a built-in: got %s %q, want read", res.Class, res.Reason)
	}
}

// TestResolveWithoutCatalog is hoop policy explain and test, and the gateway when it
// cannot load its snapshot: built-ins are known by name, anything else is write.
func TestResolveWithoutCatalog(t *testing.T) {
	for _, rv := range []classify.Resolver{{Listed: listed}, {Catalog: classify.Unavailable("the gateway could not read the catalog of db: boom"), Listed: listed}} {
		gateway := rv.Catalog != nil
		tests := []struct {
			ref  classify.Ref
			want policy.Class
		}{
			{classify.Ref{Kind: classify.RefFunction, Name: "lower", Args: 1}, read},
			{classify.Ref{Kind: classify.RefFunction, Name: "count"}, read},
			{classify.Ref{Kind: classify.RefFunction, Schema: "pg_catalog", Name: "now"}, read},
			{classify.Ref{Kind: classify.RefFunction, Name: "numeric", Args: 1}, read},
			{classify.Ref{Kind: classify.RefFunction, Name: "touch_canary"}, write},
			{classify.Ref{Kind: classify.RefFunction, Schema: "public", Name: "report_daily"}, read}, // listed
			{classify.Ref{Kind: classify.RefFunction, Name: "report_daily"}, write},                  // which schema?
			{classify.Ref{Kind: classify.RefAttribute, Name: "email", Args: 1}, read},
			{classify.Ref{Kind: classify.RefOperator, Name: "+", Args: 2}, read},
			{classify.Ref{Kind: classify.RefOperator, Name: "===", Args: 2}, write},
		}
		for _, tt := range tests {
			res := rv.Resolve([]classify.Ref{tt.ref})
			if res.Class != tt.want {
				t.Errorf("gateway=%v %v: got %s %q, want %s", gateway, tt.ref, res.Class, res.Reason, tt.want)
			}
			if res.Class == write && tt.ref.Kind == classify.RefFunction {
				want := "the gateway decides by its catalog"
				if gateway {
					want = "boom"
				}
				if !strings.Contains(res.Reason, want) {
					t.Errorf("gateway=%v %v: reason %q, want it to say %q", gateway, tt.ref, res.Reason, want)
				}
			}
		}
		rel := rv.Resolve([]classify.Ref{{Kind: classify.RefRelation, Name: "orders"}})
		if gateway && rel.Class != write || !gateway && rel.Class != read {
			t.Errorf("gateway=%v: a relation: got %s %q", gateway, rel.Class, rel.Reason)
		}
	}
}

// TestRefsManyNames: a statement with many distinct names costs no more than its size
// (the refs are a set), and lists each once.
func TestRefsManyNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i := range 20000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("t.c")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(", f")
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString("()")
	}
	b.WriteString(" FROM t")
	c := classify.New(parsers[0].parse, 0)
	sts, err := c.Classify(b.String())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[classify.Ref]bool{}
	for _, r := range sts[0].Refs {
		if seen[r] {
			t.Fatalf("ref %v listed twice", r)
		}
		seen[r] = true
	}
	if len(sts[0].Refs) != 7*26+26+1 {
		t.Errorf("got %d refs, want %d", len(sts[0].Refs), 7*26+26+1)
	}
}

// TestClientTrafficStaysRead: what psql's meta-commands, DBeaver and analysts send uses
// only built-ins; judged by a catalog of a database with nothing of its own, each read
// stays read (no false write from an operator, a cast or a function-style cast).
func TestClientTrafficStaysRead(t *testing.T) {
	rv := classify.Resolver{Catalog: classify.Builtins()}
	c := classify.New(parsers[0].parse, 0)
	var texts []string
	for _, file := range []string{"testdata/analytics.sql", "testdata/dbeaver.sql"} {
		texts = append(texts, readFile(t, file))
	}
	for _, e := range readPsqlMetaTB(t) {
		texts = append(texts, e.sql)
	}
	n := 0
	for _, text := range texts {
		sts, err := c.Classify(text)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if st.Class != read {
				continue
			}
			n++
			if res := rv.Resolve(st.Refs); res.Class != read {
				t.Errorf("%s: got %s (%s), want read", st.Text, res.Class, res.Reason)
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d read statements in the corpora", n)
	}
}

// TestResolveHarmlessSetConfig: a set_config the walk found harmless (a setting anyone may
// SET) is read when it is PostgreSQL's own, with the gateway's catalog, with the built-in
// list, and without a catalog; unmarked, set_config is admin; and a function of the
// database's own named set_config that the call may reach is judged as any other.
func TestResolveHarmlessSetConfig(t *testing.T) {
	builtin := classify.Function{OID: 2078, Schema: "pg_catalog", Name: "set_config", Args: 3, Kind: 'f', Volatile: 'v', Language: "internal"}
	own := classify.Function{OID: 40001, Schema: "public", Name: "set_config", Args: 3, Kind: 'f', Volatile: 'v', Language: "sql"}
	withBuiltin := classify.NewCatalog([]classify.Function{builtin}, nil, nil, nil, nil)
	withOwn := classify.NewCatalog([]classify.Function{builtin, own}, nil, nil, nil, nil)
	harmless := classify.Ref{Kind: classify.RefFunction, Name: "set_config", Args: 3, Harmless: true}
	plain := harmless
	plain.Harmless = false
	for _, c := range []struct {
		name string
		rv   classify.Resolver
		ref  classify.Ref
		want policy.Class
	}{
		{"gateway catalog", classify.Resolver{Catalog: withBuiltin}, harmless, read},
		{"gateway catalog, unmarked", classify.Resolver{Catalog: withBuiltin}, plain, admin},
		{"built-in list", classify.Resolver{}, harmless, read},
		{"built-in list, unmarked", classify.Resolver{}, plain, admin},
		{"a function of the database's own of that name", classify.Resolver{Catalog: withOwn}, harmless, write},
	} {
		if res := c.rv.Resolve([]classify.Ref{c.ref}); res.Class != c.want {
			t.Errorf("%s: got %s %q, want %s", c.name, res.Class, res.Reason, c.want)
		}
	}
}
