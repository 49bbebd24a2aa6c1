package classify_test

import (
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
)

func TestMultiStatement(t *testing.T) {
	type stmt struct {
		Text   string
		Class  policy.Class
		Always bool
		Kind   string
	}
	tests := []struct {
		sql  string
		want []stmt
	}{
		{"", nil},
		{"   \n\t ", nil},
		{"-- only a comment", nil},
		{"/* only */ /* comments */", nil},
		{";;", nil},
		{"SELECT 1; DELETE FROM users", []stmt{
			{"SELECT 1", read, false, "SELECT"},
			{"DELETE FROM users", write, false, "DELETE"},
		}},
		{"SELECT 1;DELETE FROM users;", []stmt{
			{"SELECT 1", read, false, "SELECT"},
			{"DELETE FROM users", write, false, "DELETE"},
		}},
		{"BEGIN; SELECT 'é;'; /* c */ UPDATE t SET a = 'ü'; COMMIT;", []stmt{
			{"BEGIN", read, true, "BEGIN"},
			{"SELECT 'é;'", read, false, "SELECT"},
			{"/* c */ UPDATE t SET a = 'ü'", write, false, "UPDATE"},
			{"COMMIT", read, true, "COMMIT"},
		}},
		{"SELECT 1; SET ROLE postgres; SELECT 2", []stmt{
			{"SELECT 1", read, false, "SELECT"},
			{"SET ROLE postgres", admin, false, "SET"},
			{"SELECT 2", read, false, "SELECT"},
		}},
		{"select $$;$$; drop table t", []stmt{
			{"select $$;$$", read, false, "SELECT"},
			{"drop table t", ddl, false, "DROP TABLE"},
		}},
		{"SELECT E'\\';' ; LISTEN x", []stmt{
			{"SELECT E'\\';'", read, false, "SELECT"},
			{"LISTEN x", write, false, "LISTEN"},
		}},
		// one statement that does not parse makes the whole text one admin statement
		{"SELECT 1; DELET FROM users", []stmt{
			{"SELECT 1; DELET FROM users", admin, false, "UNKNOWN"},
		}},
	}
	for _, p := range parsers {
		c := classify.New(p.parse, 16)
		for _, tc := range tests {
			for range 2 { // the second time from the cache
				sts, err := c.Classify(tc.sql)
				if err != nil {
					t.Fatalf("%s: Classify(%q): %v", p.name, tc.sql, err)
				}
				var got []stmt
				for _, st := range sts {
					got = append(got, stmt{st.Text, st.Class, st.Always, st.Kind})
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: Classify(%q) (-want +got):\n%s", p.name, tc.sql, diff)
				}
			}
		}
	}
}

func TestCache(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	counting := func(sql string) (*pg_query.ParseResult, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return parsers[0].parse(sql)
	}
	c := classify.New(counting, 2)
	const q = "SELECT * FROM users JOIN orders ON true"
	first, err := c.Classify(q)
	if err != nil {
		t.Fatal(err)
	}
	// The caller owns what it gets: changing it must not change the cache.
	first[0].Class = policy.Read
	first[0].Tables[0] = "changed"
	first[0].Tables = append(first[0].Tables[:1], "appended")
	second, err := c.Classify(q)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"users", "orders"}; !cmp.Equal(second[0].Tables, want) {
		t.Errorf("got tables %q from the cache, want %q", second[0].Tables, want)
	}
	if calls != 1 {
		t.Errorf("got %d parses for the same text twice, want 1", calls)
	}
	// A text's own statements, not a neighbour's: the key is the exact text.
	if sts, _ := c.Classify(q + " "); len(sts) != 1 || sts[0].Text != q {
		t.Errorf("got %+v", sts)
	}
	if calls != 2 {
		t.Errorf("got %d parses, want 2", calls)
	}
	// LRU: q and q+" " are cached; using q makes q+" " the oldest, which "SELECT 2" evicts.
	c.Classify(q)
	c.Classify("SELECT 2")
	calls = 0
	c.Classify(q)
	if calls != 0 {
		t.Errorf("the most recently used text was evicted")
	}
	c.Classify(q + " ")
	if calls != 1 {
		t.Errorf("the least recently used text was not evicted")
	}
	// Statements that do not parse are cached like the others.
	calls = 0
	c.Classify("SELEC")
	c.Classify("SELEC")
	if calls != 1 {
		t.Errorf("got %d parses for a bad text twice, want 1", calls)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := classify.New(parsers[0].parse, 8)
	texts := []string{
		"SELECT 1", "DELETE FROM t", "SET ROLE x", "SELECT * FROM a, b",
		"BEGIN", "COMMIT", "SELECT nextval('s')", "DROP TABLE t", "SELECT 3", "SELECT 4",
	}
	want := make(map[string][]classify.Statement)
	for _, q := range texts {
		sts, err := classify.New(parsers[0].parse, 0).Classify(q)
		if err != nil {
			t.Fatal(err)
		}
		want[q] = sts
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				q := texts[(g+i)%len(texts)]
				got, err := c.Classify(q)
				if err != nil {
					t.Error(err)
					return
				}
				if !cmp.Equal(want[q], got) {
					t.Errorf("Classify(%q) = %+v, want %+v", q, got, want[q])
					return
				}
				if len(got[0].Tables) > 0 {
					got[0].Tables[0] = "scribbled" // must not reach another caller
				}
			}
		}()
	}
	wg.Wait()
}

// fakeParser returns tree for every text.
func fakeParser(tree *pg_query.ParseResult, err error) classify.Parser {
	return func(string) (*pg_query.ParseResult, error) { return tree, err }
}

func raw(n *pg_query.Node) *pg_query.ParseResult {
	return &pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: n}}}
}

// sel is SELECT target.
func sel(target *pg_query.Node) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{
		TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: target}}}},
	}}}
}

func TestFailClosed(t *testing.T) {
	unknownField := protowire.AppendVarint(protowire.AppendTag(nil, 9999, protowire.VarintType), 1)

	withUnknownSelect := sel(pg_query.MakeAConstIntNode(1, 0))
	withUnknownSelect.GetSelectStmt().ProtoReflect().SetUnknown(unknownField)

	withUnknownDeep := sel(pg_query.MakeAConstIntNode(1, 0))
	withUnknownDeep.GetSelectStmt().GetTargetList()[0].GetResTarget().ProtoReflect().SetUnknown(unknownField)

	unknownNodeType := &pg_query.Node{}
	unknownNodeType.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 9999, protowire.BytesType), nil))

	withUnknownRoot := raw(sel(pg_query.MakeAConstIntNode(1, 0)))
	withUnknownRoot.ProtoReflect().SetUnknown(unknownField)

	tests := []struct {
		name string
		tree *pg_query.ParseResult
	}{
		{"a field from a newer parser in a statement", raw(withUnknownSelect)},
		{"a field from a newer parser deep in an expression", raw(withUnknownDeep)},
		{"a node type from a newer parser as the statement", raw(unknownNodeType)},
		{"a node type from a newer parser in an expression", raw(sel(unknownNodeType))},
		{"a field from a newer parser in the result", withUnknownRoot},
		{"no statement in a RawStmt", raw(nil)},
		{"an analysed node in a raw tree", raw(sel(&pg_query.Node{Node: &pg_query.Node_FuncExpr{FuncExpr: &pg_query.FuncExpr{Funcid: 1}}}))},
		{"an analysed Query as a statement", raw(&pg_query.Node{Node: &pg_query.Node_Query{Query: &pg_query.Query{}}})},
		{"a PL/pgSQL node as a statement", raw(&pg_query.Node{Node: &pg_query.Node_PlassignStmt{PlassignStmt: &pg_query.PLAssignStmt{}}})},
	}
	for _, tc := range tests {
		sts, err := classify.New(fakeParser(tc.tree, nil), 0).Classify("SELECT 1")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(sts) != 1 || sts[0].Class != admin || sts[0].Reason == "" {
			t.Errorf("%s: got %+v, want one admin statement with a reason", tc.name, sts)
		}
	}

	// An empty Node in a list is a NULL (SELECT DISTINCT), not an unknown node.
	distinct := sel(pg_query.MakeAConstIntNode(1, 0))
	distinct.GetSelectStmt().DistinctClause = []*pg_query.Node{{}}
	if sts, _ := classify.New(fakeParser(raw(distinct), nil), 0).Classify("SELECT DISTINCT 1"); len(sts) != 1 || sts[0].Class != read {
		t.Errorf("SELECT DISTINCT: got %+v, want read", sts)
	}

	// A parser that fails is "does not parse"; one that returns nothing is an internal error.
	sts, err := classify.New(fakeParser(nil, errors.New("syntax error at or near \"x\"")), 0).Classify("x")
	if err != nil || len(sts) != 1 || sts[0].Class != admin || sts[0].Reason != `does not parse: syntax error at or near "x"` {
		t.Errorf("parse error: got %+v, %v", sts, err)
	}
	if _, err := classify.New(fakeParser(nil, nil), 0).Classify("x"); !errors.Is(err, classify.ErrInternal) {
		t.Errorf("nil tree: got %v, want ErrInternal", err)
	}
	if _, err := classify.New(nil, 0).Classify("x"); !errors.Is(err, classify.ErrInternal) {
		t.Errorf("nil parser: got %v, want ErrInternal", err)
	}
}

// TestEveryNodeType puts each node type of the parse tree in a SELECT list and checks
// which ones the classifier does not accept: exactly those that never appear in a raw
// parse tree. A new pg_query_go version that adds node types fails here until each one
// is looked at.
func TestEveryNodeType(t *testing.T) {
	notRaw := map[string]bool{
		"Var": true, "Param": true, "Aggref": true, "WindowFunc": true, "WindowFuncRunCondition": true,
		"SubscriptingRef": true, "FuncExpr": true, "OpExpr": true, "DistinctExpr": true, "NullIfExpr": true,
		"ScalarArrayOpExpr": true, "SubPlan": true, "AlternativeSubPlan": true, "FieldSelect": true,
		"FieldStore": true, "RelabelType": true, "CoerceViaIO": true, "ArrayCoerceExpr": true,
		"ConvertRowtypeExpr": true, "CollateExpr": true, "CaseTestExpr": true, "ArrayExpr": true,
		"RowCompareExpr": true, "JsonConstructorExpr": true, "JsonExpr": true, "JsonTablePath": true,
		"JsonTablePathScan": true, "JsonTableSiblingJoin": true, "MergeAction": true, "CoerceToDomain": true,
		"CoerceToDomainValue": true, "NextValueExpr": true, "InferenceElem": true, "TargetEntry": true,
		"RangeTblRef": true, "FromExpr": true, "OnConflictExpr": true, "Query": true, "TableFunc": true,
		"RangeTblEntry": true, "RTEPermissionInfo": true, "RangeTblFunction": true, "TableSampleClause": true,
		"WithCheckOption": true, "SortGroupClause": true, "WindowClause": true, "RowMarkClause": true,
		"SetOperationStmt": true, "PLAssignStmt": true, "InlineCodeBlock": true, "CallContext": true,
		"IntList": true, "OidList": true, "RawStmt": true,
	}
	oneof := (*pg_query.Node)(nil).ProtoReflect().Descriptor().Oneofs().ByName("node")
	fields := oneof.Fields()
	var got []string
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		n := &pg_query.Node{}
		m := n.ProtoReflect()
		m.Set(fd, m.NewField(fd)) // an empty message of that type
		sts, err := classify.New(fakeParser(raw(sel(n)), nil), 0).Classify("x")
		if err != nil {
			t.Errorf("%s: %v", fd.Message().Name(), err)
			continue
		}
		if sts[0].Class == admin && strings.Contains(sts[0].Reason, "does not know") {
			got = append(got, string(fd.Message().Name()))
		}
	}
	var want []string
	for i := 0; i < fields.Len(); i++ {
		if name := string(fields.Get(i).Message().Name()); notRaw[name] {
			want = append(want, name)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("node types refused as unknown (-want +got):\n%s", diff)
	}
}

// TestPureGo checks that the CLI's side builds without cgo and does not link the cgo parser.
func TestPureGo(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	cmd := exec.Command(gobin, "list", "-deps", "github.com/hoopgw/hoop/classify", "github.com/hoopgw/hoop/classify/wasm")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "runtime/cgo" || dep == "github.com/pganalyze/pg_query_go/v6/parser" {
			t.Errorf("CGO_ENABLED=0: classify or classify/wasm depends on %s", dep)
		}
	}
}

// TestDeepNesting: a deep tree is walked; one too deep for the parser is ErrTooComplex (the
// gateway refuses it), not a crash. TestDeepNestingDoesNotCrash tries every construct.
func TestDeepNesting(t *testing.T) {
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, tc := range []struct {
			depth int
			want  policy.Class
		}{{1000, read}, {20000, ""}} {
			sql := strings.Repeat("SELECT * FROM (", tc.depth) + "SELECT nextval('s')" + strings.Repeat(") s", tc.depth)
			if tc.want == read {
				sql = strings.Repeat("SELECT * FROM (", tc.depth) + "SELECT 1" + strings.Repeat(") s", tc.depth)
			}
			sts, err := c.Classify(sql)
			if tc.want == "" {
				if !errors.Is(err, classify.ErrTooComplex) {
					t.Errorf("%s: depth %d: got %+v, %v; want ErrTooComplex", p.name, tc.depth, sts, err)
				}
				continue
			}
			if err != nil || len(sts) != 1 || sts[0].Class != tc.want {
				t.Errorf("%s: depth %d: got %+v, %v; want one %s statement", p.name, tc.depth, sts, err, tc.want)
			}
		}
		sql := strings.Repeat("SELECT * FROM (", 1000) + "SELECT nextval('s')" + strings.Repeat(") s", 1000)
		if sts, err := c.Classify(sql); err != nil || len(sts) != 1 || sts[0].Class != write {
			t.Errorf("%s: nextval 1000 subqueries deep: got %v, %v; want write", p.name, sts, err)
		}
	}
}
